"""Embedded Chroma access: one collection per knowledge base, cosine distance, vectors supplied by us.

Embeddings are computed by our own registry and passed in, so Chroma's default embedding function
(which downloads an English model at the first `add()`) is never used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings

_clients: dict[Path, chromadb.ClientAPI] = {}
_clients_lock = threading.Lock()


def get_client(path: Path) -> chromadb.ClientAPI:
    """Return the process-wide Chroma client for `path` (one per folder, created on first use)."""
    resolved = path.resolve()
    with _clients_lock:
        if resolved not in _clients:
            resolved.mkdir(parents=True, exist_ok=True)
            _clients[resolved] = chromadb.PersistentClient(
                path=str(resolved), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            )
        return _clients[resolved]


@dataclass(frozen=True)
class VectorHit:
    """One chunk returned by a vector query; `score` is cosine similarity (1 - cosine distance)."""

    chunk_id: str
    text: str
    metadata: dict
    score: float


class VectorIndex:
    """The Chroma collection of one knowledge base."""

    def __init__(self, client: chromadb.ClientAPI, collection_name: str, hidden_ingests: frozenset[str] = frozenset()) -> None:
        self.collection = client.get_or_create_collection(
            name=collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        # Ingestions still being written: their chunks are not shown to queries until the file is complete.
        self.hidden_ingests = hidden_ingests

    def add(self, ids: list[str], texts: list[str], embeddings: list[list[float]], metadatas: list[dict]) -> None:
        """Upsert chunks with precomputed embeddings (re-running an interrupted write is harmless)."""
        self.collection.upsert(ids=ids, documents=texts, embeddings=embeddings, metadatas=metadatas)

    def delete_where(self, where: dict) -> None:
        """Delete every chunk whose metadata matches `where`."""
        self.collection.delete(where=where)

    def ids_where(self, where: dict) -> list[str]:
        """Return the ids of chunks whose metadata matches `where`."""
        return self.collection.get(where=where, include=[])["ids"]

    def count(self) -> int:
        """Return the number of chunks in the collection."""
        return self.collection.count()

    def get_chunks(self, where: dict | None = None) -> list[VectorHit]:
        """Return stored chunks (text and metadata) matching `where`, with score 0."""
        result = self.collection.get(where=where, include=["documents", "metadatas"])
        return [
            VectorHit(chunk_id=cid, text=text or "", metadata=dict(meta or {}), score=0.0)
            for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"])
        ]

    def query(self, embedding: list[float], k: int) -> list[VectorHit]:
        """Return the `k` chunks nearest to `embedding`, best first."""
        if self.collection.count() == 0:
            return []
        where = {"ingest_id": {"$nin": sorted(self.hidden_ingests)}} if self.hidden_ingests else None
        result = self.collection.query(
            query_embeddings=[embedding], n_results=k, where=where, include=["documents", "metadatas", "distances"]
        )
        return [
            VectorHit(chunk_id=cid, text=text or "", metadata=dict(meta or {}), score=1.0 - float(distance))
            for cid, text, meta, distance in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0]
            )
        ]


def delete_collection(client: chromadb.ClientAPI, collection_name: str) -> None:
    """Drop a knowledge base's collection; a missing collection is not an error."""
    try:
        client.delete_collection(collection_name)
    except (ValueError, chromadb.errors.NotFoundError):
        pass
