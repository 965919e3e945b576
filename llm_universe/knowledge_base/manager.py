"""Named knowledge bases: manifests, the file registry, source files and their Chroma collections.

A knowledge base (KB) has a display name (any Unicode text) and a stable id. The id names its
source folder `knowledge_db/<id>/` and its Chroma collection `kb_<id>`, so Chinese names, renames
and odd characters never reach the file system or Chroma.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from llm_universe.config import ANSWER_POLICIES, Settings
from llm_universe.db import Database
from llm_universe.documents import SUPPORTED_EXTENSIONS, ChineseTextSplitter, load_document
from llm_universe.embeddings.registry import describe_embeddings, get_embeddings
from filelock import FileLock, Timeout

from llm_universe.errors import (
    ConfigurationError,
    EmbeddingMismatchError,
    FileNotInKnowledgeBase,
    FileTooLarge,
    SymlinkRejected,
    InvalidKnowledgeBaseName,
    KnowledgeBaseExists,
    KnowledgeBaseNotFound,
    LLMUniverseError,
)
from llm_universe.knowledge_base.archives import extract_archive, is_archive
from llm_universe.knowledge_base.lexical import LexicalIndex
from llm_universe.knowledge_base.vector_index import VectorHit, VectorIndex, delete_collection, get_client

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 100
REBUILD_BATCH = 64
SAMPLE_KB_ID = "sample"
SAMPLE_KB_NAME = "示例知识库"

# Callback signature: (stage, file name, done, total). Stages: parse, split, embed, write, done, failed.
ProgressCallback = Callable[[str, str, int, int], None]


class IngestCancelled(Exception):
    """Raised inside an ingestion when its cancel event is set; the file in progress is rolled back."""


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
    generation: int = 0
    # 'strict', 'balanced' or 'open'; None follows LLM_UNIVERSE_ANSWER_POLICY (see chains/qa.py).
    answer_policy: str | None = None

    @property
    def collection_name(self) -> str:
        """Chroma collection name, derived from the stable id and the rebuild generation."""
        return f"kb_{self.id}" if self.generation == 0 else f"kb_{self.id}_g{self.generation}"


@dataclass
class IngestReport:
    """Outcome of one `ingest` call: file names per outcome, failures with reasons, counts and timings."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
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
            "cancelled": self.cancelled,
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
        if not path.is_dir() or path.is_symlink():  # a symlinked folder is rejected like a symlinked file
            result.append(path)
            continue
        for found in sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))):
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
        self._file_locks: dict[str, FileLock] = {}
        self._locks_guard = threading.Lock()
        self.recover_interrupted()

    # Knowledge bases ---------------------------------------------------------------------------

    def create(self, name: str, kb_id: str | None = None) -> KnowledgeBase:
        """Create an empty knowledge base using the configured embedding provider; raise KnowledgeBaseExists."""
        name = validate_kb_name(name)
        if self.find(name) is not None:
            raise KnowledgeBaseExists(name=name)
        info = describe_embeddings(self.settings.embedding_provider, self.settings)
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
        """Return indexed file and chunk counts, failed files and the size of the stored sources in bytes."""
        with self.db.connect() as connection:
            row = connection.execute(
                "SELECT COUNT(*) AS files, COALESCE(SUM(chunk_count), 0) AS chunks FROM files"
                " WHERE kb_id = ? AND status = 'indexed'", (kb.id,)
            ).fetchone()
            failed = connection.execute(
                "SELECT COUNT(*) FROM files WHERE kb_id = ? AND status = 'failed'", (kb.id,)
            ).fetchone()[0]
        folder = self.source_dir(kb)
        size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else 0
        return {"files": row["files"], "chunks": row["chunks"], "failed_files": failed, "size_bytes": size}

    def rename(self, name: str, new_name: str) -> KnowledgeBase:
        """Give a knowledge base a new display name; its id, folder and collection stay the same."""
        kb = self.get(name)
        new_name = validate_kb_name(new_name)
        existing = self.find(new_name)
        if existing is not None and existing.id != kb.id:
            raise KnowledgeBaseExists(name=new_name)
        with self.db.connect() as connection:
            connection.execute(
                "UPDATE knowledge_bases SET name = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (new_name, kb.id),
            )
        logger.info("renamed knowledge base %s to %s (id %s)", kb.name, new_name, kb.id)
        return self.get(new_name)

    def delete(self, name: str) -> None:
        """Delete a knowledge base: its registry rows, Chroma collection and source folder."""
        kb = self.get(name)
        with self._lock(kb.id):
            delete_collection(self._client, kb.collection_name)
            self.lexical(kb).delete_all()
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
        """Return the Chroma collection of `kb`; its queries skip chunks of files still being written."""
        return VectorIndex(self._client, kb.collection_name, hidden_ingests=self._pending_ingests(kb))

    def lexical(self, kb: KnowledgeBase) -> LexicalIndex:
        """Return the BM25 index of `kb`; its searches skip chunks of files still being written."""
        return LexicalIndex(self.db, kb.id, hidden_ingests=self._pending_ingests(kb))

    def _pending_ingests(self, kb: KnowledgeBase) -> frozenset[str]:
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT pending_ingest FROM files WHERE kb_id = ? AND pending_ingest IS NOT NULL", (kb.id,)
            ).fetchall()
        return frozenset(row[0] for row in rows)

    def check_embeddings(self, kb: KnowledgeBase) -> None:
        """Raise EmbeddingMismatchError when the KB's embedding provider no longer gives the model it was built with.

        A knowledge base is always queried and extended with the model recorded in its manifest, so
        knowledge bases built with different models can be searched together. This check catches a
        provider whose configured model or dimension changed since (e.g. another OPENAI_EMBEDDING_MODEL).
        """
        info = describe_embeddings(kb.embedding_provider, self.settings)
        if (info.model, info.dimension) == (kb.embedding_model, kb.embedding_dimension):
            return
        raise EmbeddingMismatchError(
            kb=kb.name, kb_model=kb.embedding_model, kb_dim=kb.embedding_dimension, kb_provider=kb.embedding_provider,
            model=info.model, dim=info.dimension,
        )

    def uses_default_embeddings(self, kb: KnowledgeBase) -> bool:
        """Return whether `kb` was built with the configured default embedding provider and model."""
        info = describe_embeddings(self.settings.embedding_provider, self.settings)
        return (kb.embedding_provider, kb.embedding_model, kb.embedding_dimension) == (
            info.provider, info.model, info.dimension)

    def rebuild(self, name: str, embedding_provider: str, progress: ProgressCallback | None = None,
                cancel: threading.Event | None = None) -> KnowledgeBase:
        """Re-embed every stored chunk with `embedding_provider` and switch the knowledge base to it.

        The new vectors go into a new collection while questions keep using the old one. Then the
        manifest switches in one transaction and the old collection is dropped. Cancelling leaves the
        knowledge base on its old model.
        """
        kb = self.get(name)
        info = describe_embeddings(embedding_provider, self.settings)
        embeddings = get_embeddings(embedding_provider, self.settings)
        with self._lock(kb.id):
            chunks = self.index(kb).get_chunks()
            target = dataclasses.replace(kb, generation=kb.generation + 1)
            delete_collection(self._client, target.collection_name)
            new_index = self.index(target)
            for start in range(0, len(chunks), REBUILD_BATCH):
                if cancel is not None and cancel.is_set():
                    delete_collection(self._client, target.collection_name)
                    raise IngestCancelled()
                batch = chunks[start:start + REBUILD_BATCH]
                (progress or (lambda *args: None))("embed", kb.name, start, len(chunks))
                vectors = embeddings.embed_documents([chunk.text for chunk in batch])
                new_index.add([c.chunk_id for c in batch], [c.text for c in batch], vectors, [c.metadata for c in batch])
            self._switch_model(kb, info, target.generation)
            delete_collection(self._client, kb.collection_name)
        logger.info("rebuilt %s with %s (%d chunks)", kb.name, info.model, len(chunks))
        return self.get(kb.name)

    def _switch_model(self, kb: KnowledgeBase, info, generation: int) -> None:
        with self.db.connect() as connection:
            connection.execute(
                "UPDATE knowledge_bases SET embedding_provider = ?, embedding_model = ?, embedding_dimension = ?,"
                " generation = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (info.provider, info.model, info.dimension, generation, kb.id),
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
        display_names: dict[Path, str] | None = None, cancel: threading.Event | None = None,
        force: bool = False,
    ) -> IngestReport:
        """Add or update files (folders and zip archives are expanded) in a knowledge base.

        Unchanged files embed nothing. Each file is handled on its own: a failure is recorded in the
        report and in the file registry, and the batch goes on. `display_names` maps a path to the
        file name to store (uploads arrive under temporary names). Setting `cancel` stops the batch:
        the file in progress is rolled back, and it and the files after it are listed in `cancelled`.
        `force` re-indexes files even when their content is unchanged (listed as `updated`).
        """
        kb = self.get(kb_name)
        self.check_embeddings(kb)
        files, skipped = expand_paths(paths)
        report = IngestReport(skipped=[path.name for path in skipped])
        notify = progress or (lambda *args: None)
        names = display_names or {}
        with self._lock(kb.id), tempfile.TemporaryDirectory(dir=self._scratch_dir()) as scratch:
            queue = self._expand_archives(files, names, Path(scratch), report)
            workers = 1 if force else self.settings.ingest_workers
            with _Prefetcher(self, kb, queue, workers) as prefetcher:
                for position, (path, name) in enumerate(queue):
                    if cancel is not None and cancel.is_set():
                        report.cancelled.extend(pending for _, pending in queue[position:])
                        break
                    notify("parse", name, position, len(queue))
                    outcome = self._ingest_one(kb, path, name, report, notify, cancel, prefetcher.take(position), force)
                    if outcome:
                        getattr(report, outcome).append(name)
                    notify("done" if outcome else "failed", name, position + 1, len(queue))
            self._touch(kb)
        return report

    def _ingest_one(self, kb: KnowledgeBase, path: Path, name: str, report: IngestReport,
                    notify: ProgressCallback, cancel: threading.Event | None = None,
                    prefetched: Future | None = None, force: bool = False) -> str | None:
        """Ingest one file, recording a failure in `report`; return the outcome or None when it failed."""
        try:
            return self._ingest_file(kb, path, name, report, notify, cancel, prefetched, force)
        except IngestCancelled:
            logger.info("cancelled ingestion of %s into %s", name, kb.name)
            report.cancelled.append(name)
        except LLMUniverseError as error:
            logger.warning("failed to ingest %s into %s: %s", name, kb.name, error)
            report.failed.append({"path": str(path), "name": name, "error": error.message(self.settings.language)})
        except Exception:  # noqa: BLE001 - a parser bug on one file must not stop the batch
            logger.exception("unexpected error while ingesting %s into %s", name, kb.name)
            message = LLMUniverseError("error.internal").message(self.settings.language)
            report.failed.append({"path": str(path), "name": name, "error": message})
        return None

    def _expand_archives(self, files: list[Path], names: dict[Path, str], scratch: Path,
                         report: IngestReport) -> list[tuple[Path, str]]:
        """Return (path, display name) pairs, with zip archives replaced by their safe members."""
        queue: list[tuple[Path, str]] = []
        limit = self.settings.max_upload_mb << 20
        for number, path in enumerate(files):
            name = sanitize_file_name(names.get(path) or path.name)
            if not is_archive(path) or not path.is_file() or path.is_symlink():
                queue.append((path, name))
                continue
            try:
                extracted = extract_archive(path, scratch / f"archive{number}", limit, display_name=name)
            except LLMUniverseError as error:
                report.failed.append({"path": str(path), "name": name, "error": error.message(self.settings.language)})
                continue
            prefix = Path(name).stem
            queue.extend((member, sanitize_file_name(f"{prefix}_{display}")) for member, display in extracted.files)
            report.skipped.extend(f"{name}: {item['name']} ({item['reason']})" for item in extracted.skipped)
        return queue

    def _ingest_file(self, kb: KnowledgeBase, path: Path, name: str, report: IngestReport,
                     notify: ProgressCallback, cancel: threading.Event | None = None,
                     prefetched: Future | None = None, force: bool = False) -> str:
        """Index one file and return its outcome: 'added', 'updated' or 'unchanged'.

        The file is staged in `<kb folder>/.incoming/` first, so an interrupted ingestion can resume
        from it after a restart. It replaces the stored source only once all its chunks are written.
        """
        self._check_file(path, name)
        content_hash = file_sha256(path)
        existing = self._file_row(kb, name)
        if not force and existing and existing["content_hash"] == content_hash and existing["status"] == "indexed":
            return "unchanged"
        duplicate = self._indexed_by_hash(kb, content_hash)
        if not force and duplicate and duplicate != name:
            logger.info("%s has the same content as %s in %s; nothing embedded", name, duplicate, kb.name)
            return "unchanged"

        ingest_id = uuid.uuid4().hex[:12]
        file_id = self._begin_file(kb, name, content_hash, path.stat().st_size, ingest_id)
        staged = self._stage_source(kb, path, file_id, content_hash)
        try:
            chunks, documents = self._parse_and_split(kb, staged, name, file_id, report, content_hash, prefetched,
                                                      notify)
            self._set_status(file_id, "embedding")
            self._write_chunks(kb, file_id, name, content_hash, ingest_id, chunks, report, notify, cancel)
        except BaseException as error:
            self._fail_file(kb, file_id, ingest_id, error)
            staged.unlink(missing_ok=True)
            raise
        self._place_source(kb, staged, name)
        self._finish_file(kb, file_id, content_hash, ingest_id, pages=_page_count(documents), chunk_count=len(chunks),
                          quality=_parse_quality(documents))
        report.pages += _page_count(documents) or 1
        report.chunks += len(chunks)
        logger.info("indexed %s into %s: %d chunks", name, kb.name, len(chunks))
        return "updated" if existing and existing["content_hash"] else "added"

    def _check_file(self, path: Path, name: str) -> None:
        """Reject symlinks, missing files and files over the size limit before reading them."""
        if path.is_symlink():
            raise SymlinkRejected(name=name)
        if not path.is_file():
            raise LLMUniverseError("error.file_not_found", path=str(path))
        size = path.stat().st_size
        if size > self.settings.max_upload_mb << 20:
            raise FileTooLarge(name=name, size_mb=round(size / (1 << 20), 1), limit_mb=self.settings.max_upload_mb)

    def _parse_and_split(self, kb: KnowledgeBase, staged: Path, name: str, file_id: int, report: IngestReport,
                         content_hash: str, prefetched: Future | None = None,
                         notify: ProgressCallback | None = None):
        """Load and split a staged file, updating its status; return (chunks, documents).

        A matching result parsed ahead by the prefetcher is used instead of parsing again.
        """
        parsed = prefetched.result() if prefetched is not None else None
        if parsed is not None and parsed.content_hash == content_hash:
            report.seconds["parse"] += parsed.parse_seconds
            report.seconds["split"] += parsed.split_seconds
            return parsed.chunks, parsed.documents
        def on_ocr(stage: str, done: int, total: int) -> None:
            if done == 0:
                self._set_status(file_id, "ocr")
            if notify is not None:
                notify(stage, name, done, total)

        started = time.perf_counter()
        documents = load_document(staged, display_name=name, progress=on_ocr)
        report.seconds["parse"] += time.perf_counter() - started
        self._set_status(file_id, "splitting")
        started = time.perf_counter()
        chunks = ChineseTextSplitter(kb.chunk_size, kb.chunk_overlap).split_documents(documents)
        report.seconds["split"] += time.perf_counter() - started
        return chunks, documents

    def _write_chunks(self, kb: KnowledgeBase, file_id: int, name: str, content_hash: str, ingest_id: str,
                      chunks: list,
                      report: IngestReport, notify: ProgressCallback, cancel: threading.Event | None = None) -> None:
        """Embed and store chunks in batches, with ids `<file id>-<ingest id>-<n>` in Chroma and the BM25 index."""
        embeddings = get_embeddings(kb.embedding_provider, self.settings)
        index = self.index(kb)
        lexical = self.lexical(kb)
        batch_size = 64
        for start in range(0, len(chunks), batch_size):
            if cancel is not None and cancel.is_set():
                raise IngestCancelled()
            batch = chunks[start:start + batch_size]
            notify("embed", name, start, len(chunks))
            began = time.perf_counter()
            vectors = embeddings.embed_documents([chunk.page_content for chunk in batch])
            report.seconds["embed"] += time.perf_counter() - began
            began = time.perf_counter()
            ids = [f"{file_id}-{ingest_id}-{start + offset}" for offset in range(len(batch))]
            metadatas = [_chunk_metadata(chunk, file_id, content_hash, ingest_id) for chunk in batch]
            index.add(ids, [chunk.page_content for chunk in batch], vectors, metadatas)
            lexical.add(ids, [chunk.page_content for chunk in batch], file_id, ingest_id)
            report.seconds["write"] += time.perf_counter() - began
        notify("write", name, len(chunks), len(chunks))

    def remove(self, file_name: str, kb_name: str) -> int:
        """Remove a file's chunks, registry row and stored copy; return the number of chunks removed."""
        kb = self.get(kb_name)
        with self._lock(kb.id):
            row = self._file_row(kb, file_name)
            if row is None:
                raise FileNotInKnowledgeBase(kb=kb.name, name=file_name)
            index, lexical = self.index(kb), self.lexical(kb)
            removed = len(index.ids_where({"file_id": row["id"]}))
            index.delete_where({"file_id": row["id"]})
            lexical.delete_file(row["id"])
            left = index.ids_where({"file_id": row["id"]}) + lexical.chunk_ids(row["id"])
            if left:  # checked by lookup, because a stale chunk would keep answering from a removed file
                raise RuntimeError(f"{len(left)} chunks of file id {row['id']} survived removal")
            with self.db.connect() as connection:
                connection.execute("DELETE FROM files WHERE id = ?", (row["id"],))
            (self.source_dir(kb) / row["name"]).unlink(missing_ok=True)
            self._touch(kb)
        logger.info("removed %s from %s: %d chunks", file_name, kb.name, removed)
        return removed

    def reindex(self, file_name: str, kb_name: str, progress: ProgressCallback | None = None) -> IngestReport:
        """Parse, split and embed a stored file again (after a loader or splitter improvement)."""
        kb = self.get(kb_name)
        if self._file_row(kb, file_name) is None:
            raise FileNotInKnowledgeBase(kb=kb.name, name=file_name)
        stored = self.source_dir(kb) / file_name
        return self.ingest([stored], kb.name, progress=progress, force=True)

    def recover_interrupted(self) -> list[tuple[str, str]]:
        """Roll back files whose ingestion was interrupted (crash, kill) and return those that can resume.

        Half-written chunks are deleted and the row goes back to its last complete state. Knowledge
        bases whose write lock is held by a live process are left alone. Returns (kb name, file name)
        pairs whose staged copy survived; `resume_interrupted` ingests them again.
        """
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT files.*, knowledge_bases.name AS kb_name FROM files JOIN knowledge_bases"
                " ON knowledge_bases.id = files.kb_id WHERE pending_hash IS NOT NULL"
            ).fetchall()
        resumable: list[tuple[str, str]] = []
        for row in rows:
            kb = self.find(row["kb_name"])
            if kb is None or not self._try_lock(kb.id):
                continue
            try:
                if self._roll_back(kb, row):
                    resumable.append((kb.name, row["name"]))
            finally:
                self._unlock(kb.id)
        return resumable

    def _roll_back(self, kb: KnowledgeBase, row) -> bool:
        """Undo one interrupted file; return whether its staged copy is there to resume from."""
        self.index(kb).delete_where({"$and": [{"file_id": row["id"]}, {"ingest_id": row["pending_ingest"] or ""}]})
        self.lexical(kb).delete_file(row["id"], ingest_id=row["pending_ingest"] or "")
        staged = list((self.source_dir(kb) / ".incoming").glob(f"{row['id']}-{row['pending_hash'][:12]}*"))
        with self.db.connect() as connection:
            if staged:
                connection.execute("UPDATE files SET status = 'pending' WHERE id = ?", (row["id"],))
            elif row["content_hash"]:
                connection.execute("UPDATE files SET status = 'indexed', pending_hash = NULL, pending_ingest = NULL"
                                   " WHERE id = ?", (row["id"],))
            else:
                connection.execute("DELETE FROM files WHERE id = ?", (row["id"],))
        logger.warning("rolled back interrupted ingestion of %s in %s (file id %s)", row["name"], kb.name, row["id"])
        return bool(staged)

    def resume_interrupted(self, progress: ProgressCallback | None = None) -> list[IngestReport]:
        """Ingest again every file left 'pending' by an interrupted ingestion, from its staged copy."""
        reports = []
        for kb_name, file_name in self.recover_interrupted():
            kb = self.get(kb_name)
            row = self._file_row(kb, file_name)
            staged = sorted((self.source_dir(kb) / ".incoming").glob(f"{row['id']}-{row['pending_hash'][:12]}*"))
            if staged:
                logger.info("resuming interrupted ingestion of %s in %s", file_name, kb_name)
                reports.append(self.ingest([staged[0]], kb_name, progress=progress, display_names={staged[0]: file_name}))
        return reports

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

    def _begin_file(self, kb: KnowledgeBase, name: str, content_hash: str, size: int, ingest_id: str) -> int:
        """Mark a file as being written (pending hash and ingest id) so a crash can be rolled back; return its id."""
        with self.db.connect() as connection:
            connection.execute(
                "INSERT INTO files (kb_id, name, pending_hash, pending_ingest, size, status)"
                " VALUES (?, ?, ?, ?, ?, 'parsing') ON CONFLICT (kb_id, name) DO UPDATE SET"
                " pending_hash = excluded.pending_hash, pending_ingest = excluded.pending_ingest,"
                " size = excluded.size, status = 'parsing', error = NULL",
                (kb.id, name, content_hash, ingest_id, size),
            )
            return connection.execute("SELECT id FROM files WHERE kb_id = ? AND name = ?", (kb.id, name)).fetchone()["id"]

    def _finish_file(self, kb: KnowledgeBase, file_id: int, content_hash: str, ingest_id: str, pages: int | None,
                     chunk_count: int, quality: float | None = None) -> None:
        """Drop the chunks of earlier ingestions of the file, then mark this one indexed."""
        self.index(kb).delete_where({"$and": [{"file_id": file_id}, {"ingest_id": {"$ne": ingest_id}}]})
        self.lexical(kb).delete_file(file_id, keep_ingest=ingest_id)
        with self.db.connect() as connection:
            connection.execute(
                "UPDATE files SET content_hash = ?, pending_hash = NULL, pending_ingest = NULL, status = 'indexed',"
                " error = NULL, pages = ?,"
                " chunk_count = ?, parse_quality = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (content_hash, pages, chunk_count, quality, file_id),
            )

    def _fail_file(self, kb: KnowledgeBase, file_id: int, ingest_id: str, error: BaseException) -> None:
        """Roll back a failed file: remove its new chunks; keep a previous version indexed, else mark it failed."""
        self.index(kb).delete_where({"$and": [{"file_id": file_id}, {"ingest_id": ingest_id}]})
        self.lexical(kb).delete_file(file_id, ingest_id=ingest_id)
        if isinstance(error, LLMUniverseError):
            message = error.message(self.settings.language)
        else:
            message = None if isinstance(error, IngestCancelled) else type(error).__name__
        with self.db.connect() as connection:
            if isinstance(error, IngestCancelled):
                connection.execute("DELETE FROM files WHERE id = ? AND content_hash IS NULL", (file_id,))
            connection.execute(
                "UPDATE files SET pending_hash = NULL, pending_ingest = NULL, error = ?,"
                " status = CASE WHEN content_hash IS NULL THEN 'failed' ELSE 'indexed' END,"
                " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (message, file_id),
            )

    def _set_status(self, file_id: int, status: str) -> None:
        with self.db.connect() as connection:
            connection.execute("UPDATE files SET status = ? WHERE id = ?", (status, file_id))

    def _stage_source(self, kb: KnowledgeBase, path: Path, file_id: int, content_hash: str) -> Path:
        """Copy the file to `<kb folder>/.incoming/<file id>-<hash prefix><suffix>` and return that path."""
        staged = self._incoming_path(kb, file_id, content_hash, path.suffix)
        staged.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() != staged.resolve():
            shutil.copyfile(path, staged)
        return staged

    def _incoming_path(self, kb: KnowledgeBase, file_id: int, content_hash: str, suffix: str) -> Path:
        return self.source_dir(kb) / ".incoming" / f"{file_id}-{content_hash[:12]}{suffix.lower()}"

    def _place_source(self, kb: KnowledgeBase, staged: Path, name: str) -> Path:
        """Move a staged file to its final name in the knowledge base's folder (atomic on one file system)."""
        target = self.source_dir(kb) / name
        if target.exists() and file_sha256(target) == file_sha256(staged):
            staged.unlink()
        else:
            os.replace(staged, target)
        return target

    def _scratch_dir(self) -> Path:
        folder = self.settings.data_dir / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _touch(self, kb: KnowledgeBase) -> None:
        with self.db.connect() as connection:
            connection.execute(
                "UPDATE knowledge_bases SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?", (kb.id,)
            )

    def _file_lock(self, kb_id: str) -> FileLock:
        lock_dir = self.settings.data_dir / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with self._locks_guard:
            if kb_id not in self._file_locks:
                self._file_locks[kb_id] = FileLock(str(lock_dir / f"{kb_id}.lock"), thread_local=False)
            return self._file_locks[kb_id]

    def _try_lock(self, kb_id: str) -> bool:
        try:
            self._file_lock(kb_id).acquire(timeout=0)
        except Timeout:
            return False
        return True

    def _unlock(self, kb_id: str) -> None:
        self._file_lock(kb_id).release()

    @contextmanager
    def _lock(self, kb_id: str) -> Iterator[None]:
        """Hold the knowledge base's write lock: a thread lock in this process plus a file lock across processes."""
        with self._locks_guard:
            thread_lock = self._locks.setdefault(kb_id, threading.Lock())
        with thread_lock, self._file_lock(kb_id):
            yield

    # Answer policy and user corrections ---------------------------------------------------------

    def set_answer_policy(self, name: str, policy: str | None) -> KnowledgeBase:
        """Set how questions on this KB are answered: 'strict', 'balanced', 'open', or None for the default.

        Raises ConfigurationError for another value and KnowledgeBaseNotFound for an unknown name.
        """
        kb = self.get(name)
        if policy is not None and policy not in ANSWER_POLICIES:
            raise ConfigurationError(name="answer_policy", value=policy, reason="must be one of " + ", ".join(ANSWER_POLICIES))
        with self.db.connect() as connection:
            connection.execute("UPDATE knowledge_bases SET answer_policy = ? WHERE id = ?", (policy, kb.id))
        logger.info("answer policy of %s set to %s", kb.name, policy or "default")
        return self.get(kb.name)

    def add_correction_chunk(self, name: str, chunk_id: str, text: str, metadata: dict) -> None:
        """Embed and store a user correction as a chunk of the KB (Chroma and BM25), outside any file.

        The chunk has file id 0, which no file gets, and its chunk id as ingest id, so it can be
        removed on its own with `remove_correction_chunk`.
        """
        kb = self.get(name)
        self.check_embeddings(kb)
        vector = get_embeddings(kb.embedding_provider, self.settings).embed_documents([text])
        with self._lock(kb.id):
            self.index(kb).add([chunk_id], [text], vector, [{**metadata, "file_id": 0, "ingest_id": chunk_id}])
            self.lexical(kb).add([chunk_id], [text], file_id=0, ingest_id=chunk_id)

    def remove_correction_chunk(self, name: str, chunk_id: str) -> None:
        """Delete a correction chunk added by `add_correction_chunk` from both indexes."""
        kb = self.get(name)
        with self._lock(kb.id):
            self.index(kb).delete_where({"$and": [{"file_id": 0}, {"ingest_id": chunk_id}]})
            self.lexical(kb).delete_file(0, ingest_id=chunk_id)

    # Search ------------------------------------------------------------------------------------

    def search(self, kb_names: list[str], query: str, k: int) -> list[tuple[KnowledgeBase, VectorHit]]:
        """Return the `k` chunks most similar to `query` across the named knowledge bases, best first.

        Each knowledge base is queried with its own embedding model; the query is embedded once per model.
        """
        kbs = [self.get(name) for name in kb_names]
        vectors: dict[str, list[float]] = {}
        hits = []
        for kb in kbs:
            self.check_embeddings(kb)
            if kb.embedding_provider not in vectors:
                vectors[kb.embedding_provider] = get_embeddings(kb.embedding_provider, self.settings).embed_query(query)
            hits.extend((kb, hit) for hit in self.index(kb).query(vectors[kb.embedding_provider], k))
        hits.sort(key=lambda pair: pair[1].score, reverse=True)
        return hits[:k]


def _chunk_metadata(chunk, file_id: int, content_hash: str, ingest_id: str) -> dict:
    """Return Chroma-safe metadata (no None values) for a chunk."""
    metadata = {key: value for key, value in chunk.metadata.items()
                if value is not None and isinstance(value, (str, int, float, bool))}
    metadata.update({"file_id": file_id, "content_hash": content_hash, "ingest_id": ingest_id})
    return metadata


@dataclass
class _Parsed:
    """A file parsed and split ahead of its turn by the prefetcher."""

    content_hash: str
    documents: list
    chunks: list
    parse_seconds: float
    split_seconds: float


class _Prefetcher:
    """Parse and split the next files on worker threads while the current file is embedded and written.

    With `workers` <= 1 nothing is prefetched. Files that the registry shows unchanged are not parsed,
    so an unchanged re-ingest stays cheap.
    """

    def __init__(self, manager: KnowledgeBaseManager, kb: KnowledgeBase, queue: list[tuple[Path, str]],
                 workers: int) -> None:
        self.manager, self.kb, self.queue, self.workers = manager, kb, queue, workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="parse") if workers > 1 else None
        self.futures: dict[int, Future] = {}

    def __enter__(self) -> _Prefetcher:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def take(self, position: int) -> Future | None:
        """Return the prefetched parse of file `position` (or None) and schedule the files after it."""
        if self.pool is None:
            return None
        for ahead in range(position, min(position + self.workers + 1, len(self.queue))):
            if ahead not in self.futures:
                path, name = self.queue[ahead]
                self.futures[ahead] = self.pool.submit(self._parse, path, name)
        return self.futures.pop(position)

    def _parse(self, path: Path, name: str) -> _Parsed | None:
        if path.is_symlink() or not path.is_file() or is_archive(path):
            return None
        content_hash = file_sha256(path)
        row = self.manager._file_row(self.kb, name)
        if (row and row["content_hash"] == content_hash) or self.manager._indexed_by_hash(self.kb, content_hash):
            return None
        started = time.perf_counter()
        documents = load_document(path, display_name=name)
        parsed_at = time.perf_counter()
        chunks = ChineseTextSplitter(self.kb.chunk_size, self.kb.chunk_overlap).split_documents(documents)
        return _Parsed(content_hash, documents, chunks, parsed_at - started, time.perf_counter() - parsed_at)


def _hidden(relative: Path) -> bool:
    """Return whether any component of a path inside a folder starts with a dot (e.g. `.incoming/`)."""
    return any(part.startswith(".") for part in relative.parts)


def _parse_quality(documents: list) -> float | None:
    scores = [doc.metadata["parse_quality"] for doc in documents if isinstance(doc.metadata.get("parse_quality"), float)]
    return min(scores) if scores else None


def _page_count(documents: list) -> int | None:
    pages = {doc.metadata.get("page") for doc in documents if doc.metadata.get("page") is not None}
    return max(pages) if pages else None


def _bundled_sample_dir() -> Path:
    from llm_universe.config import SAMPLE_KB_DIR

    return SAMPLE_KB_DIR
