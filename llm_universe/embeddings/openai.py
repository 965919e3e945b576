"""OpenAI text-embedding-3 models (and any OpenAI-compatible /embeddings endpoint) through the openai SDK.

The SDK is called directly rather than through `langchain_openai.OpenAIEmbeddings`, whose default
token-length check loads a tiktoken encoding that is downloaded at first use, and nothing may be
downloaded at run time.
"""

from __future__ import annotations

import threading

from llm_universe.embeddings.base import RemoteEmbeddings


class OpenAIEmbeddings(RemoteEmbeddings):
    """Vectors from `POST {base_url}/embeddings`; the client is created on the first request."""

    def __init__(self, target) -> None:
        super().__init__(target)
        self._client = None
        self._client_lock = threading.Lock()

    def _embed_batch(self, batch: list[str], is_query: bool) -> list[list[float]]:
        arguments = {"model": self.target.model, "input": batch, "encoding_format": "float"}
        if self.target.requested_dimension:
            arguments["dimensions"] = self.target.requested_dimension
        response = self._get_client().embeddings.create(**arguments)
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]

    def _get_client(self):
        with self._client_lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(api_key=self.target.api_key, base_url=self.target.base_url,
                                             timeout=self.target.timeout, max_retries=0)
            return self._client


def build_embeddings(target) -> OpenAIEmbeddings:
    """Return OpenAI embeddings for `target`."""
    return OpenAIEmbeddings(target)
