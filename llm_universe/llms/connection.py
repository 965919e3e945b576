"""Connection tests and model lists: what the UI's "测试连接" button, its model dropdown and `doctor` call.

A chat test sends one message and requests one token, and an embedding test embeds one string.
Neither retries, so a failing provider is reported at once with its category and message.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

from langchain_core.messages import HumanMessage

from llm_universe.config import Settings
from llm_universe.errors import LLMUniverseError, ProviderStreamCut
from llm_universe.i18n import DEFAULT_LANGUAGE, translate
from llm_universe.llms.errors import classify_error, error_category, map_provider_error
from llm_universe.llms.registry import ChatTarget, get_chat_model, get_provider, resolve_target
from llm_universe.llms.retry import RetryPolicy

logger = logging.getLogger(__name__)

PROBE_MESSAGE = "你好"
# Seconds allowed for listing a server's models: the dropdown should not hang on a dead server.
MODEL_LIST_TIMEOUT = 10.0
NO_RETRIES = RetryPolicy(max_retries=0)


@dataclass(frozen=True)
class ConnectionReport:
    """Outcome of one connection test.

    `category` is "ok", "none" (no LLM selected, nothing to test) or an error category of
    `llms.errors` such as "missing_key", "auth", "not_found", "rate_limit", "timeout".
    """

    provider: str
    category: str
    display_name: dict[str, str] = field(default_factory=dict)
    kind: str = "llm"
    model: str | None = None
    seconds: float = 0.0
    dimension: int | None = None
    error: LLMUniverseError | None = None

    @property
    def ok(self) -> bool:
        """True when the provider answered (or when there is no provider to test)."""
        return self.error is None

    def message(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """Return one sentence for the user: what worked, or what failed and what to do."""
        if self.error is not None:
            return self.error.message(lang)
        if self.category == "none":
            return translate("provider.connection_none", lang)
        name = self.display_name.get(lang) or self.display_name.get("en") or self.provider
        if self.kind == "embedding":
            return translate("provider.embedding_ok", lang, provider=name, model=self.model,
                             dimension=self.dimension, seconds=f"{self.seconds:.1f}")
        return translate("provider.connection_ok", lang, provider=name, model=self.model, seconds=f"{self.seconds:.1f}")

    def to_dict(self, lang: str = DEFAULT_LANGUAGE) -> dict:
        """Return the JSON shape used by `doctor --json`."""
        return {"provider": self.provider, "kind": self.kind, "ok": self.ok, "category": self.category,
                "model": self.model, "seconds": round(self.seconds, 3), "message": self.message(lang)}


def check_connection(settings: Settings, provider: str | None = None, model: str | None = None,
                     api_key: str | None = None) -> ConnectionReport:
    """Send a one-token chat to `provider` (default: the configured one) and report the outcome; never raises.

    `model` and `api_key` override the settings as in `resolve_target`; the key is used for this
    request only and appears in no report or log.
    """
    provider_id = provider or settings.resolved_llm_provider
    try:
        target = resolve_target(settings, provider=provider_id, model=model, api_key=api_key)
    except LLMUniverseError as error:
        return _failed(provider_id, error, model)
    if target is None:
        return ConnectionReport(provider=provider_id, category="none", display_name=get_provider(provider_id).display_name)

    probe = dataclasses.replace(target, max_tokens=1, retry_policy=NO_RETRIES)
    started = time.perf_counter()
    received = False
    try:
        finished = False
        for chunk in get_chat_model(probe).stream([HumanMessage(content=PROBE_MESSAGE)]):
            finished = finished or bool(chunk.response_metadata.get("finish_reason"))
            received = received or bool(chunk.content)
        if not finished:
            raise ProviderStreamCut()
    except Exception as error:  # noqa: BLE001 - every failure becomes a typed error in the report
        return _failed(provider_id, map_provider_error(error, probe, received_text=received), probe.model,
                       time.perf_counter() - started)
    seconds = time.perf_counter() - started
    logger.info("connection test of %s model %s succeeded in %.2f s", provider_id, probe.model, seconds)
    return ConnectionReport(provider=provider_id, category="ok", display_name=target.spec.display_name,
                            model=probe.model, seconds=seconds)


def check_embeddings(settings: Settings, provider: str | None = None) -> ConnectionReport:
    """Embed one string with `provider` (default: the configured one) and report the outcome; never raises."""
    from llm_universe.embeddings.registry import get_embeddings, resolve_embedding_target

    provider_id = provider or settings.embedding_provider
    quick = settings.replace(provider_max_retries=0)
    try:
        target = resolve_embedding_target(provider_id, quick)
    except LLMUniverseError as error:
        return _failed(provider_id, error, kind="embedding")
    started = time.perf_counter()
    try:
        get_embeddings(provider_id, quick).embed_query(PROBE_MESSAGE)
    except Exception as error:  # noqa: BLE001 - every failure becomes a typed error in the report
        return _failed(provider_id, map_provider_error(error, target), target.model, time.perf_counter() - started,
                       kind="embedding")
    seconds = time.perf_counter() - started
    logger.info("embedding test of %s model %s succeeded in %.2f s", provider_id, target.model, seconds)
    return ConnectionReport(provider=provider_id, category="ok", display_name=target.spec.display_name,
                            kind="embedding", model=target.model, seconds=seconds, dimension=target.dimension)


def list_models(settings: Settings, provider: str, api_key: str | None = None) -> list[str]:
    """Return the model names to offer for `provider`.

    For a provider that lists its models (openai-compatible), they come from `GET {base_url}/models`.
    A server without that endpoint (HTTP 404) or with an empty list gets the suggested models, and so
    does every other provider, without a request. Raises a typed ProviderError when the server cannot
    be reached or rejects the key.
    """
    spec = get_provider(provider)
    if not spec.lists_models:
        return list(spec.suggested_models)
    key = (api_key or "").strip() or settings.provider_value(spec.key_variable)
    target = ChatTarget(spec=spec, model="-", base_url=settings.provider_value(spec.base_url_variable) or spec.default_base_url,
                        api_key=key, timeout=min(settings.request_timeout, MODEL_LIST_TIMEOUT))
    try:
        models = sorted(_fetch_model_ids(target))
    except Exception as error:  # noqa: BLE001 - mapped to a typed error below
        info = classify_error(error, spec.vendor)
        if info is not None and info.category == "not_found":
            return list(spec.suggested_models)
        raise map_provider_error(error, target) from error
    return models or list(spec.suggested_models)


def _fetch_model_ids(target: ChatTarget) -> list[str]:
    import openai

    from llm_universe.llms.openai_compatible import PLACEHOLDER_KEY

    client = openai.OpenAI(api_key=target.api_key or PLACEHOLDER_KEY, base_url=target.base_url,
                           timeout=target.timeout, max_retries=0)
    return [model.id for model in client.models.list()]


def _failed(provider_id: str, error: LLMUniverseError, model: str | None = None, seconds: float = 0.0,
            kind: str = "llm") -> ConnectionReport:
    category = error_category(error)
    logger.info("%s test of %s failed: %s", "embedding" if kind == "embedding" else "connection", provider_id, category)
    names = getattr(error, "params", {}).get("provider_names") or {}
    return ConnectionReport(provider=provider_id, category=category, display_name=names, kind=kind, model=model,
                            seconds=seconds, error=error)
