"""iFlytek Spark through its OpenAI-compatible HTTP API (`POST {base_url}/chat/completions`, bearer APIPassword).

Spark differs from OpenAI in two ways handled here. Its replies carry `code` (0 on success) and
`message`, and an error can arrive with HTTP 200 as a non-zero code, also as an SSE event inside a
stream. And its streamed chunks may have no `finish_reason`: the final chunk is the one carrying
`usage`, so that chunk marks a complete answer.
"""

from __future__ import annotations

from typing import Any

from langchain_core.outputs import ChatGenerationChunk, ChatResult

from llm_universe.llms.errors import VendorError
from llm_universe.llms.openai_compatible import OpenAICompatibleChatModel, chat_model_arguments

# Spark's codes whose category the HTTP status alone gets wrong. Codes missing here fall back to the
# HTTP status, or to "rejected" for an in-band error.
# NOTE: taken from Spark's error-code table as of 2025 and not checked against the live service.
ERROR_CODES = {
    10007: "rate_limit",  # the service is still answering the previous request of this user
    10013: "rejected", 10014: "rejected", 10019: "rejected",  # content review
    10907: "rejected",  # too many tokens
    11200: "auth",  # this APIPassword is not authorised for the model, or its volume is used up
    11201: "quota",  # daily limit reached
    11202: "rate_limit", 11203: "rate_limit",  # per-second and concurrency limits
}
# Spark's documented temperature range is (0, 1].
MIN_TEMPERATURE = 0.01
MAX_TEMPERATURE = 1.0


def classify_response(status: int | None, body: dict) -> str | None:
    """Return the error category for a Spark error body, or None to decide by the HTTP status."""
    try:
        code = int(body.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return ERROR_CODES.get(code)


def raise_for_code(payload: dict) -> None:
    """Raise VendorError when a Spark reply or chunk carries a non-zero `code`."""
    code = payload.get("code")
    if code not in (None, 0, "0"):
        raise VendorError({"code": code, "message": payload.get("message") or "", "sid": payload.get("sid")})


class SparkChatModel(OpenAICompatibleChatModel):
    """`ChatOpenAI` that reads Spark's in-band error codes and its usage-only final chunk."""

    def _convert_chunk_to_generation_chunk(self, chunk: dict, default_chunk_class: type,
                                           base_generation_info: dict | None) -> ChatGenerationChunk | None:
        raise_for_code(chunk)
        generation = super()._convert_chunk_to_generation_chunk(chunk, default_chunk_class, base_generation_info)
        if generation is not None and chunk.get("usage") and not (generation.generation_info or {}).get("finish_reason"):
            generation.generation_info = {**(generation.generation_info or {}), "finish_reason": "stop"}
        return generation

    def _create_chat_result(self, response: Any, generation_info: dict | None = None) -> ChatResult:
        payload = response if isinstance(response, dict) else getattr(response, "model_extra", None) or {}
        raise_for_code(payload)
        return super()._create_chat_result(response, generation_info)


def build_chat_model(target) -> SparkChatModel:
    """Return a streaming Spark chat model for `target`; the temperature is clamped to Spark's range."""
    arguments = chat_model_arguments(target)
    arguments["temperature"] = min(MAX_TEMPERATURE, max(MIN_TEMPERATURE, target.temperature))
    return SparkChatModel(**arguments)
