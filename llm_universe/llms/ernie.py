"""Baidu ERNIE through Qianfan's v2 OpenAI-compatible API (`POST {base_url}/chat/completions`).

The key is a Qianfan API key of the form `bce-v3/ALTAK-…/…`, sent as a bearer token. Qianfan's error
bodies look like OpenAI's ({"error": {"code", "message", "type"}}), but an unknown model can come
back as HTTP 400 or 401 with code `invalid_model`, so the code decides before the status.
"""

from __future__ import annotations

from llm_universe.llms.openai_compatible import OpenAICompatibleChatModel, chat_model_arguments

# Qianfan error codes and types, by category. NOTE: from Qianfan's v2 error-code table as of 2025.
NOT_FOUND_CODES = {"invalid_model", "model_not_found", "unsupported_model"}
AUTH_CODES = {"invalid_iam_token", "iam_certification_failed", "access_denied", "no_permission",
              "permission_denied"}
RATE_LIMIT_CODES = {"rpm_rate_limit_exceeded", "tpm_rate_limit_exceeded", "rate_limit_exceeded",
                    "qps_rate_limit_exceeded"}
QUOTA_CODES = {"insufficient_quota", "quota_exceeded", "arrears", "account_arrears"}
SERVER_CODES = {"server_high_load", "internal_error", "service_unavailable"}


def classify_response(status: int | None, body: dict) -> str | None:
    """Return the error category for a Qianfan error body, or None to decide by the HTTP status."""
    codes = {str(body.get(name) or "").lower() for name in ("code", "type")}
    for category, known in (("not_found", NOT_FOUND_CODES), ("quota", QUOTA_CODES), ("auth", AUTH_CODES),
                            ("rate_limit", RATE_LIMIT_CODES), ("server", SERVER_CODES)):
        if codes & known:
            return category
    return None


def build_chat_model(target) -> OpenAICompatibleChatModel:
    """Return a streaming ERNIE chat model for `target`."""
    return OpenAICompatibleChatModel(**chat_model_arguments(target))
