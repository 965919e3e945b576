"""Shared batching, retries, timeouts and checks for embedding providers.

A provider module subclasses `BatchedEmbeddings` (local models) or `RemoteEmbeddings` (HTTP APIs)
and implements only `_embed_batch`, which embeds at most `batch_size` texts in one call.
"""

from __future__ import annotations

import logging
import time

from langchain_core.embeddings import Embeddings

from llm_universe.llms.errors import map_provider_error, provider_error, retry_check
from llm_universe.llms.retry import call_with_retry

logger = logging.getLogger(__name__)


class BatchedEmbeddings(Embeddings):
    """LangChain `Embeddings` that split the input into batches and check every returned vector.

    Blank texts are sent as a single space, since several APIs reject empty input. A reply with the
    wrong number of vectors or the wrong dimension raises ProviderBadResponse.
    """

    def __init__(self, target) -> None:
        self.target = target
        self.batch_size = target.spec.batch_size

    @property
    def model_name(self) -> str:
        """Model name recorded in knowledge-base manifests."""
        return self.target.model

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self.target.dimension

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed `texts` (documents) in batches of `batch_size`; returns one vector per text, in order."""
        return self._embed(texts, is_query=False)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query string."""
        return self._embed([text], is_query=True)[0]

    def _embed(self, texts: list[str], is_query: bool) -> list[list[float]]:
        started = time.perf_counter()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [text if text.strip() else " " for text in texts[start:start + self.batch_size]]
            vectors.extend(self._checked(self._call(batch, is_query), len(batch)))
        logger.debug("embedded %d texts with %s model %s in %.2f s", len(texts), self.target.spec.id,
                     self.target.model, time.perf_counter() - started)
        return vectors

    def _call(self, batch: list[str], is_query: bool) -> list[list[float]]:
        return self._embed_batch(batch, is_query)

    def _checked(self, vectors: list[list[float]], expected_count: int) -> list[list[float]]:
        if len(vectors) != expected_count or any(len(vector) != self.target.dimension for vector in vectors):
            logger.warning("%s model %s returned %d vectors of lengths %s for %d texts (expected dimension %d)",
                           self.target.spec.id, self.target.model, len(vectors),
                           sorted({len(vector) for vector in vectors}), expected_count, self.target.dimension)
            raise provider_error("bad_response", self.target.spec)
        return [list(map(float, vector)) for vector in vectors]

    def _embed_batch(self, batch: list[str], is_query: bool) -> list[list[float]]:
        """Return one vector per text of `batch`, in order."""
        raise NotImplementedError


class RemoteEmbeddings(BatchedEmbeddings):
    """Embeddings over an HTTP API: each batch is retried per the target's `RetryPolicy`, failures become typed errors."""

    def _call(self, batch: list[str], is_query: bool) -> list[list[float]]:
        description = f"{self.target.spec.id} embedding request (model {self.target.model}, {len(batch)} texts)"
        try:
            return call_with_retry(lambda: self._embed_batch(batch, is_query), self.target.retry_policy,
                                   retry_check(self.target.spec.vendor), description)
        except Exception as error:  # noqa: BLE001 - every failure is mapped to a typed provider error
            mapped = map_provider_error(error, self.target)
            logger.warning("%s failed: %s", description, type(mapped).__name__)
            raise mapped from error
