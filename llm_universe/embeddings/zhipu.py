"""Zhipu embedding-3 through the `zhipuai` SDK (`POST {base_url}/embeddings`)."""

from __future__ import annotations

import threading

from llm_universe.embeddings.base import RemoteEmbeddings


class ZhipuEmbeddings(RemoteEmbeddings):
    """Vectors from Zhipu's embeddings API, at most `batch_size` (64) texts per request."""

    def __init__(self, target) -> None:
        super().__init__(target)
        self._client = None
        self._client_lock = threading.Lock()

    def _embed_batch(self, batch: list[str], is_query: bool) -> list[list[float]]:
        arguments = {"model": self.target.model, "input": batch}
        if self.target.requested_dimension:
            arguments["dimensions"] = self.target.requested_dimension
        data = self._get_client().embeddings.create(**arguments).data
        if all(item.index is not None for item in data):
            data = sorted(data, key=lambda item: item.index)
        return [item.embedding for item in data]

    def _get_client(self):
        with self._client_lock:
            if self._client is None:
                from llm_universe.llms.zhipu import create_client

                self._client = create_client(self.target.api_key, self.target.base_url, self.target.timeout)
            return self._client


def build_embeddings(target) -> ZhipuEmbeddings:
    """Return Zhipu embeddings for `target`."""
    return ZhipuEmbeddings(target)
