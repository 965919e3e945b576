"""A sentence-transformers model folder already on this computer (m3e, bge, ...), run in this process.

`sentence-transformers` is an optional package; without it the registry raises a message with the
install command. Only a local folder is accepted, never a model-hub name, so nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from llm_universe.embeddings.base import BatchedEmbeddings
from llm_universe.llms.errors import provider_error

logger = logging.getLogger(__name__)


def read_dimension(model_dir: str) -> int | None:
    """Return the output dimension stated in the folder's config files, without loading the model.

    The last Dense layer (`*_Dense/config.json`, out_features) decides when there is one, then the
    pooling layer (`1_Pooling/config.json`), then the transformer's `config.json` (hidden_size).
    """
    folder = Path(model_dir).expanduser()
    dense_layers = sorted(folder.glob("*_Dense/config.json"))
    candidates = [(path, "out_features") for path in reversed(dense_layers)]
    candidates += [(folder / "1_Pooling" / "config.json", "word_embedding_dimension"),
                   (folder / "config.json", "hidden_size")]
    for path, key in candidates:
        value = _json_value(path, key)
        if isinstance(value, int) and value > 0:
            return value
    return None


class SentenceTransformerEmbeddings(BatchedEmbeddings):
    """Normalised vectors from a local sentence-transformers model, loaded on first use."""

    def __init__(self, target) -> None:
        super().__init__(target)
        self._model = None
        self._lock = threading.Lock()

    def _embed_batch(self, batch: list[str], is_query: bool) -> list[list[float]]:
        vectors = self._load().encode(batch, batch_size=len(batch), normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    def _load(self):
        with self._lock:
            if self._model is None:
                self._model = self._open_model()
            return self._model

    def _open_model(self):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            spec = self.target.spec
            raise provider_error("missing_dependency", spec, package=spec.package,
                                 command=spec.install_command) from None
        path = str(Path(self.target.model).expanduser())
        logger.info("loading sentence-transformers model from %s", path)
        try:
            # NOTE: local_files_only exists since sentence-transformers 2.3; older versions reject it.
            return SentenceTransformer(path, local_files_only=True)
        except (OSError, ValueError) as error:
            raise provider_error("model_file_invalid", self.target.spec, path=path, detail=str(error)[:200]) from error


def build_embeddings(target) -> SentenceTransformerEmbeddings:
    """Return embeddings over the model folder named by `target.model`."""
    return SentenceTransformerEmbeddings(target)


def _json_value(path: Path, key: str) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        return None
