"""Deterministic fake embeddings for tests: vectors derived from sha256 of character bigrams.

Texts that share characters get similar vectors, so retrieval in tests behaves sensibly while
staying fast and reproducible across processes (Python's `hash()` is salted per process, sha256 is not).
"""

from __future__ import annotations

import hashlib
import math

from langchain_core.embeddings import Embeddings


class FakeEmbeddings(Embeddings):
    """Bag-of-character-bigrams hashed into `dimension` buckets, L2-normalised."""

    model_name = "fake-bigram-hash"

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        compact = "".join(text.split()) or " "
        grams = [compact[i:i + 2] for i in range(max(1, len(compact) - 1))]
        for gram in grams:
            digest = hashlib.sha256(gram.encode("utf-8")).digest()
            vector[int.from_bytes(digest[:4], "big") % self.dimension] += 1.0
        norm = math.sqrt(sum(value * value for value in vector)) or 1.0
        return [value / norm for value in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed each text."""
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query string."""
        return self._embed(text)


def build_embeddings(target) -> FakeEmbeddings:
    """Return fake embeddings of the target's dimension."""
    return FakeEmbeddings(dimension=target.dimension)
