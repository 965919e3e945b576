"""Registry mapping an embedding provider id to a factory of LangChain `Embeddings`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings

from llm_universe.errors import UnknownEmbeddingProvider


@dataclass(frozen=True)
class EmbeddingInfo:
    """What a knowledge-base manifest records about the model that embedded it."""

    provider: str
    model: str
    dimension: int


def _usem3() -> Embeddings:
    from llm_universe.embeddings.usem3 import USEEmbeddings

    return USEEmbeddings()


def _fake() -> Embeddings:
    from llm_universe.embeddings.fake import FakeEmbeddings

    return FakeEmbeddings()


# Adding a provider means one module and one line here.
EMBEDDING_PROVIDERS: dict[str, Callable[[], Embeddings]] = {
    "usem3": _usem3,
    "fake": _fake,
}

_cache: dict[str, Embeddings] = {}


def get_embeddings(provider: str) -> Embeddings:
    """Return the (cached) embeddings for `provider`; raise UnknownEmbeddingProvider listing valid ids.

    Instances are shared because a model is expensive to load and stateless once loaded.
    """
    if provider not in EMBEDDING_PROVIDERS:
        raise UnknownEmbeddingProvider(name=provider, valid=", ".join(sorted(EMBEDDING_PROVIDERS)))
    if provider not in _cache:
        _cache[provider] = EMBEDDING_PROVIDERS[provider]()
    return _cache[provider]


def describe_embeddings(provider: str) -> EmbeddingInfo:
    """Return provider, model name and dimension of `provider` without embedding anything."""
    embeddings = get_embeddings(provider)
    return EmbeddingInfo(provider=provider, model=embeddings.model_name, dimension=embeddings.dimension)  # type: ignore[attr-defined]
