"""Zhipu GLM chat models through the `zhipuai` SDK (`POST {base_url}/chat/completions`, SSE when streaming).

Authentication: the SDK turns a key of the form `id.secret` into a short-lived JWT signed with the
secret (HS256), so the secret itself is not sent. Any other key is sent as a plain bearer token,
which is what zhipuai 2.1.5 does for every key by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr, SecretStr

from llm_universe.llms.errors import VendorError, retry_check
from llm_universe.llms.retry import RetryPolicy, call_with_retry, stream_with_retry

JWT_KEY_FORM = re.compile(r"[^.\s]+\.[^.\s]+")
ROLES = {"system": "system", "human": "user", "ai": "assistant"}
# Codes of Zhipu's error bodies ({"error": {"code": "1211", "message": ...}}) whose category the HTTP
# status alone gets wrong or leaves vague. NOTE: taken from Zhipu's error-code table as of 2025; codes
# missing here fall back to the HTTP status.
ERROR_CODES = {
    "1000": "auth", "1001": "auth", "1002": "auth", "1003": "auth", "1004": "auth",
    "1110": "auth", "1111": "auth", "1112": "auth", "1120": "auth", "1220": "auth",
    "1113": "quota", "1304": "quota",
    "1211": "not_found", "1221": "not_found", "1222": "not_found",
    "1301": "rejected",
    "1302": "rate_limit", "1303": "rate_limit", "1305": "rate_limit",
    # finish_reason "network_error": the model failed while generating.
    "network_error": "server",
}


def classify_response(status: int | None, body: dict) -> str | None:
    """Return the error category for a Zhipu error body, or None to decide by the HTTP status."""
    return ERROR_CODES.get(str(body.get("code") or ""))


def create_client(api_key: str, base_url: str | None, timeout: float):
    """Return a `zhipuai.ZhipuAI` client with the SDK's retries off (the shared RetryPolicy retries)."""
    import zhipuai

    return zhipuai.ZhipuAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0,
                           disable_token_cache=JWT_KEY_FORM.fullmatch(api_key) is None)


class ZhipuChatModel(BaseChatModel):
    """LangChain chat model over Zhipu's chat completions; the final streamed chunk carries `finish_reason`."""

    model: str
    api_key: SecretStr
    base_url: str | None = None
    temperature: float = 0.1
    timeout: float = 60.0
    max_tokens: int | None = None
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    _client: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "zhipuai"

    def _stream(self, messages: list[BaseMessage], stop=None, run_manager=None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, stream=True, **kwargs)
        for chunk in stream_with_retry(lambda: self._stream_once(request), self.retry_policy,
                                       retry_check("zhipu"), self._description()):
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        request = self._request(messages, stop, stream=False, **kwargs)
        response = call_with_retry(lambda: self._get_client().chat.completions.create(**request),
                                   self.retry_policy, retry_check("zhipu"), self._description())
        choice = response.choices[0]
        metadata = {"finish_reason": choice.finish_reason, "model_name": response.model}
        message = AIMessage(content=choice.message.content or "", response_metadata=metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream_once(self, request: dict) -> Iterator[ChatGenerationChunk]:
        for chunk in self._get_client().chat.completions.create(**request):
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            if choice.finish_reason == "network_error":
                raise VendorError({"code": "network_error", "message": "the model failed while generating"})
            metadata = {"finish_reason": choice.finish_reason, "model_name": chunk.model} if choice.finish_reason else {}
            yield ChatGenerationChunk(message=AIMessageChunk(content=choice.delta.content or "",
                                                             response_metadata=metadata))

    def _request(self, messages: list[BaseMessage], stop, stream: bool, **kwargs: Any) -> dict:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": ROLES.get(message.type, "user"), "content": message.text} for message in messages],
            "stream": stream,
            "temperature": self.temperature,
        }
        if self.max_tokens is not None:
            request["max_tokens"] = self.max_tokens
        if stop:
            request["stop"] = stop
        request.update({key: value for key, value in kwargs.items() if key in {"max_tokens", "top_p"}})
        return request

    def _get_client(self):
        if self._client is None:
            self._client = create_client(self.api_key.get_secret_value(), self.base_url, self.timeout)
        return self._client

    def _description(self) -> str:
        return f"zhipu chat request (model {self.model})"


def build_chat_model(target) -> ZhipuChatModel:
    """Return a streaming Zhipu chat model for `target`; the SDK client is created on the first request."""
    return ZhipuChatModel(model=target.model, api_key=target.api_key, base_url=target.base_url,
                          temperature=target.temperature, timeout=target.timeout, max_tokens=target.max_tokens,
                          retry_policy=target.retry_policy)
