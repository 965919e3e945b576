"""Embedding providers behind one registry; see `get_embeddings`."""

from llm_universe.embeddings.registry import EMBEDDING_PROVIDERS, EmbeddingInfo, get_embeddings

__all__ = ["EMBEDDING_PROVIDERS", "EmbeddingInfo", "get_embeddings"]
