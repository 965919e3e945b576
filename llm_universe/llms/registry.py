"""Registry of chat providers: one table that the UI, `.env.example` and the CLI read.

Each provider module holds only its request specifics; this module picks the provider, fills in
keys, base URLs and models from `Settings`, and raises typed errors for missing keys or unknown ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_core.language_models.chat_models import BaseChatModel

from llm_universe.config import Settings
from llm_universe.errors import ProviderMissingKey, UnknownProvider


@dataclass(frozen=True)
class ProviderSpec:
    """Static description of a provider family."""

    id: str
    display_name: dict[str, str]
    key_variable: str | None
    base_url_variable: str | None
    default_base_url: str | None
    default_model: str | None
    suggested_models: tuple[str, ...] = ()
    factory: Callable[..., BaseChatModel] | None = None


@dataclass(frozen=True, repr=False)
class ChatTarget:
    """A fully resolved chat endpoint: provider, model, base URL and key (the key is never shown in repr)."""

    spec: ProviderSpec
    model: str
    base_url: str | None
    api_key: str | None = field(default=None)
    temperature: float = 0.1
    timeout: float = 60.0

    def __repr__(self) -> str:
        return f"ChatTarget(provider={self.spec.id!r}, model={self.model!r}, base_url={self.base_url!r})"


def _openai_factory(target: ChatTarget) -> BaseChatModel:
    from llm_universe.llms.openai_compatible import build_chat_model

    return build_chat_model(target)


def _fake_factory(target: ChatTarget) -> BaseChatModel:
    from llm_universe.llms.fake import FakeChatModel

    return FakeChatModel()


PROVIDERS: dict[str, ProviderSpec] = {
    "none": ProviderSpec(
        id="none", display_name={"zh": "不使用大模型（摘录式回答）", "en": "No LLM (extractive answers)"},
        key_variable=None, base_url_variable=None, default_base_url=None, default_model=None,
    ),
    "openai": ProviderSpec(
        id="openai", display_name={"zh": "OpenAI", "en": "OpenAI"},
        key_variable="OPENAI_API_KEY", base_url_variable="OPENAI_BASE_URL",
        default_base_url="https://api.openai.com/v1", default_model="gpt-4o-mini",
        suggested_models=("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"), factory=_openai_factory,
    ),
    "fake": ProviderSpec(
        id="fake", display_name={"zh": "测试用模型", "en": "Fake model for tests"},
        key_variable=None, base_url_variable=None, default_base_url=None, default_model="fake-echo",
        factory=_fake_factory,
    ),
}


def resolve_target(settings: Settings, provider: str | None = None, model: str | None = None,
                   api_key: str | None = None) -> ChatTarget | None:
    """Return the chat endpoint to call, or None for extractive answers.

    `provider`, `model` and `api_key` override the settings (CLI flags, UI fields). Raises
    UnknownProvider for an unknown id and ProviderMissingKey when the provider needs a key and has none.
    """
    provider_id = provider or settings.resolved_llm_provider
    spec = PROVIDERS.get(provider_id)
    if spec is None:
        raise UnknownProvider(name=provider_id, valid=", ".join(PROVIDERS))
    if spec.factory is None:
        return None
    key = api_key or (settings.openai_api_key if spec.id == "openai" else None)
    if spec.key_variable and not key:
        raise ProviderMissingKey(provider=spec.display_name["en"], variable=spec.key_variable)
    base_url = settings.openai_base_url if spec.id == "openai" else spec.default_base_url
    chosen_model = model or (settings.openai_model if spec.id == "openai" else spec.default_model)
    return ChatTarget(spec=spec, model=chosen_model or "", base_url=base_url or spec.default_base_url, api_key=key,
                      temperature=settings.temperature, timeout=settings.request_timeout)


def get_chat_model(target: ChatTarget) -> BaseChatModel:
    """Build the LangChain chat model for `target` (SDK clients are created here, on first use)."""
    assert target.spec.factory is not None
    return target.spec.factory(target)
