"""Registry of chat providers: one table that the UI, `.env.example` and `doctor` read.

Each provider module contains only its request specifics and exposes `build_chat_model(target)`.
This module picks the provider and fills in keys, base URLs and models from `Settings`. It raises
typed errors for unknown ids, missing keys, missing models and missing optional packages. Importing
it imports no SDK, because provider modules are loaded when a chat model is built.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llm_universe.config import Settings
from llm_universe.errors import UnknownProvider
from llm_universe.llms.errors import provider_error
from llm_universe.llms.retry import RetryPolicy

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel


@dataclass(frozen=True)
class ProviderSpec:
    """Static description of a provider family.

    `module` names the provider module (None for extractive answers); `vendor` selects how its error
    bodies are read (see `llms.errors.VENDOR_MODULES`). `key_pattern` is the form of the keys the
    vendor issues: a rejected key of another form gets a message saying so. `requires_package` is an
    import name checked before use, with `install_command` shown when it is missing.
    `context_window` is the default model's window in tokens, used by the token budget when the model
    name carries no size ("…-128k") and LLM_UNIVERSE_CONTEXT_WINDOW is unset.
    """

    id: str
    display_name: dict[str, str]
    key_variable: str | None
    base_url_variable: str | None
    default_base_url: str | None
    default_model: str | None
    suggested_models: tuple[str, ...] = ()
    model_variable: str | None = None
    module: str | None = None
    vendor: str = "openai"
    description: dict[str, str] = field(default_factory=dict)
    key_required: bool = True
    key_pattern: str | None = None
    key_example: str | None = None
    lists_models: bool = False
    base_url_presets: tuple[tuple[str, str], ...] = ()
    extra_variables: tuple[str, ...] = ()
    requires_package: str | None = None
    package: str | None = None
    install_command: str | None = None
    model_is_path: bool = False
    hidden: bool = False
    context_window: int = 8192

    @property
    def factory(self) -> Callable[[ChatTarget], BaseChatModel] | None:
        """The function that builds this provider's chat model, or None when it answers without an LLM."""
        if self.module is None:
            return None
        return importlib.import_module(self.module).build_chat_model

    @property
    def variables(self) -> tuple[str, ...]:
        """Every environment variable this provider reads, in the order `.env.example` lists them."""
        names = (self.key_variable, self.base_url_variable, self.model_variable, *self.extra_variables)
        return tuple(name for name in names if name)


@dataclass(frozen=True, repr=False)
class ChatTarget:
    """A fully resolved chat endpoint: provider, model, base URL and key (the key is never shown in repr).

    `timeout` is in seconds per request; `max_tokens` None leaves the answer length to the provider;
    `options` holds the provider's extra variables (e.g. LLAMA_CPP_N_CTX) that are set.
    """

    spec: ProviderSpec
    model: str
    base_url: str | None
    api_key: str | None = field(default=None)
    temperature: float = 0.1
    timeout: float = 60.0
    max_tokens: int | None = None
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    options: dict[str, str] = field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        return f"ChatTarget(provider={self.spec.id!r}, model={self.model!r}, base_url={self.base_url!r})"


PROVIDERS: dict[str, ProviderSpec] = {
    "none": ProviderSpec(
        id="none", display_name={"zh": "不使用大模型（摘录式回答）", "en": "No LLM (extractive answers)"},
        key_variable=None, base_url_variable=None, default_base_url=None, default_model=None,
        description={"zh": "不调用大模型，直接摘录知识库中最相关的原文。",
                     "en": "Calls no LLM and quotes the most relevant passages of the knowledge base."},
    ),
    "openai": ProviderSpec(
        id="openai", display_name={"zh": "OpenAI", "en": "OpenAI"},
        key_variable="OPENAI_API_KEY", base_url_variable="OPENAI_BASE_URL", model_variable="OPENAI_MODEL",
        default_base_url="https://api.openai.com/v1", default_model="gpt-4o-mini",
        suggested_models=("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"),
        module="llm_universe.llms.openai_compatible", context_window=128_000,
        description={"zh": "OpenAI 的对话模型；接口地址可改为网关或代理地址。",
                     "en": "OpenAI chat models; the base URL may point to a gateway or proxy."},
    ),
    "zhipu": ProviderSpec(
        id="zhipu", display_name={"zh": "智谱 GLM", "en": "Zhipu GLM"},
        key_variable="ZHIPUAI_API_KEY", base_url_variable="ZHIPUAI_BASE_URL", model_variable="ZHIPUAI_MODEL",
        default_base_url="https://open.bigmodel.cn/api/paas/v4", default_model="glm-4-flash",
        suggested_models=("glm-4-flash", "glm-4-air", "glm-4-plus", "glm-4.5-air"),
        module="llm_universe.llms.zhipu", vendor="zhipu", context_window=128_000,
        key_pattern=r"[^.\s]+\.[^.\s]+", key_example="<id>.<secret>",
        description={"zh": "智谱开放平台（open.bigmodel.cn）的 GLM 对话模型，通过 zhipuai SDK 调用；密钥形如 id.secret。",
                     "en": "GLM chat models of the Zhipu open platform (open.bigmodel.cn) through the zhipuai SDK; "
                           "keys have the form id.secret."},
    ),
    "spark": ProviderSpec(
        id="spark", display_name={"zh": "讯飞星火", "en": "iFlytek Spark"},
        key_variable="SPARK_API_PASSWORD", base_url_variable="SPARK_BASE_URL", model_variable="SPARK_MODEL",
        default_base_url="https://spark-api-open.xf-yun.com/v1", default_model="lite",
        suggested_models=("lite", "generalv3", "pro-128k", "generalv3.5", "max-32k", "4.0Ultra"),
        module="llm_universe.llms.spark", vendor="spark", context_window=4096,
        description={"zh": "讯飞星火的 OpenAI 兼容 HTTP 接口；密钥是控制台中 HTTP 服务的 APIPassword。",
                     "en": "The OpenAI-compatible HTTP API of iFlytek Spark; the key is the APIPassword of the "
                           "HTTP service in the console."},
    ),
    "ernie": ProviderSpec(
        id="ernie", display_name={"zh": "百度文心（千帆）", "en": "Baidu ERNIE (Qianfan)"},
        key_variable="QIANFAN_API_KEY", base_url_variable="QIANFAN_BASE_URL", model_variable="QIANFAN_MODEL",
        default_base_url="https://qianfan.baidubce.com/v2", default_model="ernie-speed-128k",
        suggested_models=("ernie-speed-128k", "ernie-lite-8k", "ernie-3.5-8k", "ernie-4.0-turbo-8k"),
        module="llm_universe.llms.ernie", vendor="qianfan",
        key_pattern=r"bce-v3/\S+/\S+", key_example="bce-v3/ALTAK-…/…",
        description={"zh": "百度千帆 v2 的 OpenAI 兼容接口；密钥是以 bce-v3/ 开头的 API Key（旧版 AK/SK 不可用）。",
                     "en": "The OpenAI-compatible v2 API of Baidu Qianfan; the key is an API key starting with "
                           "bce-v3/ (the old AK/SK pair does not work)."},
    ),
    "openai-compatible": ProviderSpec(
        id="openai-compatible", display_name={"zh": "OpenAI 兼容服务", "en": "OpenAI-compatible server"},
        key_variable="OPENAI_COMPATIBLE_API_KEY", base_url_variable="OPENAI_COMPATIBLE_BASE_URL",
        model_variable="OPENAI_COMPATIBLE_MODEL", default_base_url="http://127.0.0.1:11434/v1", default_model=None,
        suggested_models=("qwen2.5:7b", "deepseek-chat", "qwen-plus"),
        module="llm_universe.llms.openai_compatible", key_required=False, lists_models=True,
        base_url_presets=(
            ("Ollama", "http://127.0.0.1:11434/v1"),
            ("vLLM", "http://127.0.0.1:8000/v1"),
            ("llama.cpp server", "http://127.0.0.1:8080/v1"),
            ("DeepSeek", "https://api.deepseek.com/v1"),
            ("DashScope", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ),
        description={"zh": "任何 OpenAI 兼容接口：本地的 Ollama、vLLM、llama.cpp server，或 DeepSeek、阿里云百炼"
                           "（DashScope）。密钥可留空；模型列表取自服务的 /models。",
                     "en": "Any OpenAI-compatible API: a local Ollama, vLLM or llama.cpp server, or DeepSeek and "
                           "DashScope. The key may be empty; models are listed from the server's /models."},
    ),
    "llama-cpp": ProviderSpec(
        id="llama-cpp", display_name={"zh": "本地 GGUF 模型（llama.cpp）", "en": "Local GGUF model (llama.cpp)"},
        key_variable=None, base_url_variable=None, model_variable="LLAMA_CPP_MODEL_PATH",
        default_base_url=None, default_model=None, extra_variables=("LLAMA_CPP_N_CTX",),
        module="llm_universe.llms.llama_cpp", vendor="llama-cpp", key_required=False, model_is_path=True,
        context_window=4096,
        requires_package="llama_cpp", package="llama-cpp-python", install_command="pip install llama-cpp-python",
        description={"zh": "在本进程内用 llama-cpp-python 运行自己下载的 GGUF 模型文件（可选依赖）；"
                           "LLAMA_CPP_N_CTX 是上下文长度（默认 4096）。",
                     "en": "Runs a GGUF model file you downloaded in this process with llama-cpp-python (optional "
                           "package); LLAMA_CPP_N_CTX is the context length (default 4096)."},
    ),
    "fake": ProviderSpec(
        id="fake", display_name={"zh": "测试用模型", "en": "Fake model for tests"},
        key_variable=None, base_url_variable=None, default_base_url=None, default_model="fake-echo",
        module="llm_universe.llms.fake", key_required=False, hidden=True,
    ),
}


def declared_variables() -> tuple[str, ...]:
    """Return every environment variable that some chat provider reads (for `Settings.from_env`)."""
    return tuple(name for spec in PROVIDERS.values() for name in spec.variables)


def get_provider(provider_id: str) -> ProviderSpec:
    """Return the spec of `provider_id`; raise UnknownProvider listing the valid ids."""
    spec = PROVIDERS.get(provider_id)
    if spec is None:
        valid = ", ".join(spec_id for spec_id, spec in PROVIDERS.items() if not spec.hidden)
        raise UnknownProvider(name=provider_id, valid=valid)
    return spec


def resolve_target(settings: Settings, provider: str | None = None, model: str | None = None,
                   api_key: str | None = None, temperature: float | None = None) -> ChatTarget | None:
    """Return the chat endpoint to call, or None for extractive answers.

    `provider`, `model`, `api_key` and `temperature` (0-2) override the settings (CLI flags, UI fields);
    blank values count as unset. Raises UnknownProvider for an unknown id, ConfigurationError for a
    temperature out of range, and a ProviderError naming the variable to set when the key or the model
    is missing, or when an optional package or a model file is missing.
    """
    if temperature is not None:
        settings = settings.replace(temperature=temperature)
    spec = get_provider(provider or settings.resolved_llm_provider)
    if spec.module is None:
        return None

    check_installed(spec)
    key = (api_key or "").strip() or settings.provider_value(spec.key_variable)
    if spec.key_variable and spec.key_required and not key:
        raise provider_error("missing_key", spec)
    chosen_model = (model or "").strip() or settings.provider_value(spec.model_variable) or spec.default_model
    if not chosen_model:
        raise provider_error("missing_model", spec)
    if spec.model_is_path and not Path(chosen_model).expanduser().exists():
        raise provider_error("model_file", spec, path=chosen_model)

    options = {name: value for name in spec.extra_variables if (value := settings.provider_value(name))}
    policy = RetryPolicy(max_retries=settings.provider_max_retries, initial_delay=settings.provider_retry_delay)
    return ChatTarget(
        spec=spec, model=chosen_model, base_url=settings.provider_value(spec.base_url_variable) or spec.default_base_url,
        api_key=key, temperature=settings.temperature, timeout=settings.request_timeout, retry_policy=policy,
        options=options,
    )


def check_installed(spec) -> None:
    """Raise ProviderDependencyMissing with the install command when `spec.requires_package` cannot be imported."""
    if spec.requires_package and importlib.util.find_spec(spec.requires_package) is None:
        raise provider_error("missing_dependency", spec, package=spec.package, command=spec.install_command)


def get_chat_model(target: ChatTarget) -> BaseChatModel:
    """Build the LangChain chat model for `target` (SDK clients are created here, on first use)."""
    factory = target.spec.factory
    if factory is None:
        raise ValueError(f"provider {target.spec.id!r} has no chat model")
    return factory(target)
