"""Named knowledge bases: manifests, the file registry, source files and their Chroma collections.

A knowledge base (KB) has a display name (any Unicode text) and a stable id; the id names its
source folder `knowledge_db/<id>/` and its Chroma collection `kb_<id>`, so Chinese names, renames
and odd characters never reach the file system or Chroma.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from llm_universe.config import Settings
from llm_universe.db import Database
from llm_universe.documents import SUPPORTED_EXTENSIONS, ChineseTextSplitter, load_document
from llm_universe.embeddings.registry import describe_embeddings, get_embeddings
from llm_universe.errors import (
    EmbeddingMismatchError,
    FileNotInKnowledgeBase,
    InvalidKnowledgeBaseName,
    KnowledgeBaseExists,
    KnowledgeBaseNotFound,
    LLMUniverseError,
)
from llm_universe.knowledge_base.vector_index import VectorHit, VectorIndex, delete_collection, get_client

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 100
SAMPLE_KB_ID = "sample"
SAMPLE_KB_NAME = "示例知识库"

# Callback signature: (stage, file name, done, total). Stages: parse, split, embed, write, done, failed.
ProgressCallback = Callable[[str, str, int, int], None]


@dataclass(frozen=True)
class KnowledgeBase:
    """A knowledge base's manifest: identity, embedding model and splitter settings."""

    id: str
    name: str
    embedding_provider: str
    embedding_model: str
    embedding_dimension: int
    chunk_size: int
    chunk_overlap: int
    created_at: str
    updated_at: str

    @property
    def collection_name(self) -> str:
        """Chroma collection name, derived from the stable id."""
        return f"kb_{self.id}"


@dataclass
class IngestReport:
    """Outcome of one `ingest` call: file names per outcome, failures with reasons, counts and timings."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    pages: int = 0
    chunks: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"parse": 0.0, "split": 0.0, "embed": 0.0, "write": 0.0})

    def to_dict(self) -> dict:
        """Return the JSON shape of the CLI's `ingest --json`."""
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "updated": self.updated,
            "failed": self.failed,
            "skipped": self.skipped,
            "pages": self.pages,
            "chunks": self.chunks,
            "seconds": {stage: round(value, 3) for stage, value in self.seconds.items()},
        }


def validate_kb_name(name: str) -> str:
    """Return `name` normalised (NFC, stripped); raise InvalidKnowledgeBaseName when empty, too long or with control characters."""
    cleaned = unicodedata.normalize("NFC", name or "").strip()
    if not cleaned:
        raise InvalidKnowledgeBaseName("error.kb_name_empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidKnowledgeBaseName("error.kb_name_too_long", max=MAX_NAME_LENGTH)
    if any(unicodedata.category(char) == "Cc" for char in cleaned):
        raise InvalidKnowledgeBaseName("error.kb_name_control")
    return cleaned


def sanitize_file_name(name: str) -> str:
    """Return the base name of `name` with path separators and control characters removed."""
    base = Path(name.replace("\\", "/")).name
    cleaned = "".join(char for char in base if unicodedata.category(char) != "Cc").strip().lstrip(".")
    return cleaned or "unnamed"


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """Expand folders into their files (sorted); return (files to ingest, files in folders with unsupported types).

    Files named explicitly are always returned for ingestion, so an unsupported one gets an error.
    """
    result: list[Path] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            result.append(path)
            continue
        for found in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
            (result if found.suffix.lower() in SUPPORTED_EXTENSIONS else skipped).append(found)
    return result, skipped


class KnowledgeBaseManager:
    """Create, list and delete knowledge bases; ingest, remove and search their files.

    Writes to one knowledge base are serialised by a per-KB lock within this process.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_path)
        self._client = get_client(settings.vector_dir)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.recover_interrupted()

    # Knowledge bases ---------------------------------------------------------------------------

    def create(self, name: str, kb_id: str | None = None) -> KnowledgeBase:
        """Create an empty knowledge base using the configured embedding provider; raise KnowledgeBaseExists."""
        name = validate_kb_name(name)
        if self.find(name) is not None:
            raise KnowledgeBaseExists(name=name)
        info = describe_embeddings(self.settings.embedding_provider)
        kb_id = kb_id or uuid.uuid4().hex[:16]
        with self.db.connect() as connection:
            connection.execute(
                "INSERT INTO knowledge_bases (id, name, embedding_provider, embedding_model, embedding_dimension,"
                " chunk_size, chunk_overlap) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kb_id, name, info.provider, info.model, info.dimension,
                 self.settings.chunk_size, self.settings.chunk_overlap),
            )
        self.source_dir(self.get(name)).mkdir(parents=True, exist_ok=True)
        logger.info("created knowledge base %s (id %s)", name, kb_id)
        return self.get(name)

    def find(self, name: str) -> KnowledgeBase | None:
        """Return the knowledge base called `name`, or None."""
        cleaned = unicodedata.normalize("NFC", name or "").strip()
        with self.db.connect() as connection:
            row = connection.execute("SELECT * FROM knowledge_bases WHERE name = ?", (cleaned,)).fetchone()
        return KnowledgeBase(**dict(row)) if row else None

    def get(self, name: str) -> KnowledgeBase:
        """Return the knowledge base called `name`; raise KnowledgeBaseNotFound listing the existing ones."""
        kb = self.find(name)
        if kb is None:
            available = ", ".join(kb.name for kb in self.list()) or "-"
            raise KnowledgeBaseNotFound(name=name, available=available)
        return kb

    def list(self) -> list[KnowledgeBase]:
        """Return every knowledge base, oldest first."""
        with self.db.connect() as connection:
            rows = connection.execute("SELECT * FROM knowledge_bases ORDER BY created_at, name").fetchall()
        return [KnowledgeBase(**dict(row)) for row in rows]

    def stats(self, kb: KnowledgeBase) -> dict:
        """Return file and chunk counts of `kb` from the registry."""
        with self.db.connect() as connection:
            row = connection.execute(
                "SELECT COUNT(*) AS files, COALESCE(SUM(chunk_count), 0) AS chunks FROM files"
                " WHERE kb_id = ? AND status = 'indexed'", (kb.id,)
            ).fetchone()
        return {"files": row["files"], "chunks": row["chunks"]}

    def delete(self, name: str) -> None:
        """Delete a knowledge base: its registry rows, Chroma collection and source folder."""
        kb = self.get(name)
        with self._lock(kb.id):
            delete_collection(self._client, kb.collection_name)
            with self.db.connect() as connection:
                connection.execute("DELETE FROM files WHERE kb_id = ?", (kb.id,))
                connection.execute("DELETE FROM knowledge_bases WHERE id = ?", (kb.id,))
            if kb.id != SAMPLE_KB_ID or self.source_dir(kb) != _bundled_sample_dir():
                shutil.rmtree(self.source_dir(kb), ignore_errors=True)
        logger.info("deleted knowledge base %s (id %s)", kb.name, kb.id)

    def source_dir(self, kb: KnowledgeBase) -> Path:
        """Folder holding the knowledge base's source files."""
        return self.settings.knowledge_dir / kb.id

    def index(self, kb: KnowledgeBase) -> VectorIndex:
        """Return the Chroma collection of `kb`."""
        return VectorIndex(self._client, kb.collection_name)

    def check_embeddings(self, kb: KnowledgeBase) -> None:
        """Raise EmbeddingMismatchError when `kb` was built with another embedding provider than configured."""
        if kb.embedding_provider == self.settings.embedding_provider:
            return
        info = describe_embeddings(self.settings.embedding_provider)
        raise EmbeddingMismatchError(
            kb=kb.name, kb_model=kb.embedding_model, kb_dim=kb.embedding_dimension, kb_provider=kb.embedding_provider,
            model=info.model, dim=info.dimension,
        )

    # Files -------------------------------------------------------------------------------------

    def files(self, name: str) -> list[dict]:
        """Return the registry rows of a knowledge base's files, by name."""
        kb = self.get(name)
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT name, content_hash, size, pages, chunk_count, status, error, updated_at FROM files"
                " WHERE kb_id = ? ORDER BY name", (kb.id,)
            ).fetchall()
        return [dict(row) for row in rows]

    def ingest(
        self, paths: Iterable[str | Path], kb_name: str, progress: ProgressCallback | None = None,
        display_names: dict[Path, str] | None = None,
    ) -> IngestReport:
        """Add or update files (folders are expanded) in a knowledge base; unchanged files embed nothing.

        Each file is handled on its own: a failure is recorded in the report and the batch goes on.
        `display_names` maps a path to the file name to store (uploads arrive under temporary names).
        """
        kb = self.get(kb_name)
        self.check_embeddings(kb)
        files, skipped = expand_paths(paths)
        report = IngestReport(skipped=[path.name for path in skipped])
        notify = progress or (lambda *args: None)
        with self._lock(kb.id):
            for position, path in enumerate(files):
                name = sanitize_file_name((display_names or {}).get(path) or path.name)
                notify("parse", name, position, len(files))
                try:
                    outcome = self._ingest_file(kb, path, name, report, notify)
                except LLMUniverseError as error:
                    logger.warning("failed to ingest %s into %s: %s", name, kb.name, error)
                    report.failed.append({"path": str(path), "name": name, "error": error.message(self.settings.language)})
                    notify("failed", name, position + 1, len(files))
                    continue
                getattr(report, outcome).append(name)
                notify("done", name, position + 1, len(files))
            self._touch(kb)
        return report

    def _ingest_file(self, kb: KnowledgeBase, path: Path, name: str, report: IngestReport,
                     notify: ProgressCallback) -> str:
        """Index one file and return its outcome: 'added', 'updated' or 'unchanged'."""
        if not path.is_file():
            raise LLMUniverseError("error.file_not_found", path=str(path))
        content_hash = file_sha256(path)
        existing = self._file_row(kb, name)
        if existing and existing["content_hash"] == content_hash and existing["status"] == "indexed":
            return "unchanged"
        duplicate = self._indexed_by_hash(kb, content_hash)
        if duplicate and duplicate != name:
            logger.info("%s has the same content as %s in %s; nothing embedded", name, duplicate, kb.name)
            return "unchanged"

        started = time.perf_counter()
        documents = load_document(path, display_name=name)
        report.seconds["parse"] += time.perf_counter() - started
        started = time.perf_counter()
        chunks = ChineseTextSplitter(kb.chunk_size, kb.chunk_overlap).split_documents(documents)
        report.seconds["split"] += time.perf_counter() - started

        file_id = self._begin_file(kb, name, content_hash, path.stat().st_size)
        self._write_chunks(kb, file_id, name, content_hash, chunks, report, notify)
        stored = self._store_source(kb, path, name)
        self._finish_file(kb, file_id, content_hash, pages=_page_count(documents), chunk_count=len(chunks))
        report.pages += _page_count(documents) or 1
        report.chunks += len(chunks)
        logger.info("indexed %s into %s: %d chunks (%s)", name, kb.name, len(chunks), stored.name)
        return "updated" if existing and existing["content_hash"] else "added"

    def _write_chunks(self, kb: KnowledgeBase, file_id: int, name: str, content_hash: str, chunks: list,
                      report: IngestReport, notify: ProgressCallback) -> None:
        """Embed and store chunks in batches; ids are `<file id>-<hash prefix>-<n>`, so reruns overwrite."""
        embeddings = get_embeddings(kb.embedding_provider)
        index = self.index(kb)
        batch_size = 64
        for start in range(0, len(chunks), batch_size):
            batch = chunks[start:start + batch_size]
            notify("embed", name, start, len(chunks))
            began = time.perf_counter()
            vectors = embeddings.embed_documents([chunk.page_content for chunk in batch])
            report.seconds["embed"] += time.perf_counter() - began
            began = time.perf_counter()
            ids = [f"{file_id}-{content_hash[:12]}-{start + offset}" for offset in range(len(batch))]
            metadatas = [_chunk_metadata(chunk, file_id, content_hash) for chunk in batch]
            index.add(ids, [chunk.page_content for chunk in batch], vectors, metadatas)
            report.seconds["write"] += time.perf_counter() - began
        notify("write", name, len(chunks), len(chunks))

    def remove(self, file_name: str, kb_name: str) -> int:
        """Remove a file's chunks, registry row and stored copy; return the number of chunks removed."""
        kb = self.get(kb_name)
        with self._lock(kb.id):
            row = self._file_row(kb, file_name)
            if row is None:
                raise FileNotInKnowledgeBase(kb=kb.name, name=file_name)
            index = self.index(kb)
            removed = len(index.ids_where({"file_id": row["id"]}))
            index.delete_where({"file_id": row["id"]})
            with self.db.connect() as connection:
                connection.execute("DELETE FROM files WHERE id = ?", (row["id"],))
            (self.source_dir(kb) / row["name"]).unlink(missing_ok=True)
            self._touch(kb)
        logger.info("removed %s from %s: %d chunks", file_name, kb.name, removed)
        return removed

    def recover_interrupted(self) -> None:
        """Remove half-written chunks of files whose ingestion was interrupted (crash, kill) and reset their rows."""
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT files.id, files.kb_id, files.name, files.content_hash, files.pending_hash FROM files"
                " WHERE pending_hash IS NOT NULL"
            ).fetchall()
        for row in rows:
            index = VectorIndex(self._client, f"kb_{row['kb_id']}")
            index.delete_where({"$and": [{"file_id": row["id"]}, {"content_hash": row["pending_hash"]}]})
            with self.db.connect() as connection:
                if row["content_hash"]:
                    connection.execute("UPDATE files SET pending_hash = NULL, status = 'indexed' WHERE id = ?", (row["id"],))
                else:
                    connection.execute("DELETE FROM files WHERE id = ?", (row["id"],))
            logger.warning("rolled back interrupted ingestion of %s (file id %s)", row["name"], row["id"])

    # Registry helpers --------------------------------------------------------------------------

    def _file_row(self, kb: KnowledgeBase, name: str):
        with self.db.connect() as connection:
            return connection.execute("SELECT * FROM files WHERE kb_id = ? AND name = ?", (kb.id, name)).fetchone()

    def _indexed_by_hash(self, kb: KnowledgeBase, content_hash: str) -> str | None:
        with self.db.connect() as connection:
            row = connection.execute(
                "SELECT name FROM files WHERE kb_id = ? AND content_hash = ? AND status = 'indexed'",
                (kb.id, content_hash),
            ).fetchone()
        return row["name"] if row else None

    def _begin_file(self, kb: KnowledgeBase, name: str, content_hash: str, size: int) -> int:
        """Mark a file as being written (pending_hash) so a crash can be rolled back; return its id."""
        with self.db.connect() as connection:
            connection.execute(
                "INSERT INTO files (kb_id, name, pending_hash, size, status) VALUES (?, ?, ?, ?, 'indexing')"
                " ON CONFLICT (kb_id, name) DO UPDATE SET pending_hash = excluded.pending_hash,"
                " size = excluded.size, status = 'indexing'",
                (kb.id, name, content_hash, size),
            )
            return connection.execute("SELECT id FROM files WHERE kb_id = ? AND name = ?", (kb.id, name)).fetchone()["id"]

    def _finish_file(self, kb: KnowledgeBase, file_id: int, content_hash: str, pages: int | None, chunk_count: int) -> None:
        """Drop the previous version's chunks, then mark the new version indexed."""
        index = self.index(kb)
        index.delete_where({"$and": [{"file_id": file_id}, {"content_hash": {"$ne": content_hash}}]})
        with self.db.connect() as connection:
            connection.execute(
                "UPDATE files SET content_hash = ?, pending_hash = NULL, status = 'indexed', error = NULL, pages = ?,"
                " chunk_count = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (content_hash, pages, chunk_count, file_id),
            )

    def _store_source(self, kb: KnowledgeBase, path: Path, name: str) -> Path:
        """Copy the source file into the knowledge base's folder (skipped when it is already there)."""
        target = self.source_dir(kb) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        return target

    def _touch(self, kb: KnowledgeBase) -> None:
        with self.db.connect() as connection:
            connection.execute(
                "UPDATE knowledge_bases SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?", (kb.id,)
            )

    def _lock(self, kb_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(kb_id, threading.Lock())

    # Search ------------------------------------------------------------------------------------

    def search(self, kb_names: list[str], query: str, k: int) -> list[tuple[KnowledgeBase, VectorHit]]:
        """Return the `k` chunks most similar to `query` across the named knowledge bases, best first."""
        kbs = [self.get(name) for name in kb_names]
        for kb in kbs:
            self.check_embeddings(kb)
        vector = get_embeddings(self.settings.embedding_provider).embed_query(query)
        hits = [(kb, hit) for kb in kbs for hit in self.index(kb).query(vector, k)]
        hits.sort(key=lambda pair: pair[1].score, reverse=True)
        return hits[:k]


def _chunk_metadata(chunk, file_id: int, content_hash: str) -> dict:
    """Return Chroma-safe metadata (no None values) for a chunk."""
    metadata = {key: value for key, value in chunk.metadata.items()
                if value is not None and isinstance(value, (str, int, float, bool))}
    metadata.update({"file_id": file_id, "content_hash": content_hash})
    return metadata


def _page_count(documents: list) -> int | None:
    pages = {doc.metadata.get("page") for doc in documents if doc.metadata.get("page") is not None}
    return max(pages) if pages else None


def _bundled_sample_dir() -> Path:
    from llm_universe.config import SAMPLE_KB_DIR

    return SAMPLE_KB_DIR
