"""Background ingestion and rebuild jobs, so the chat stays usable while files are indexed.

A `JobRunner` runs jobs on a small thread pool and keeps each job's live progress (stage, file,
counts, estimated time remaining) in memory for the UI to poll. What must survive a crash is in
the file registry: staged files resume through `KnowledgeBaseManager.resume_interrupted`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from llm_universe.errors import LLMUniverseError
from llm_universe.knowledge_base.manager import IngestCancelled, IngestReport, KnowledgeBaseManager

logger = logging.getLogger(__name__)


@dataclass
class Job:
    """One background job and its live progress; `status` is queued, running, done, failed or cancelled."""

    id: str
    kind: str
    kb_name: str
    owner: str
    total_files: int
    status: str = "queued"
    stage: str = ""
    current_file: str = ""
    files_done: int = 0
    stage_done: int = 0
    stage_total: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    report: IngestReport | None = None
    error: LLMUniverseError | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def seconds_remaining(self) -> float | None:
        """Estimate the time left from the average time per finished file; None before the first one."""
        if self.started_at is None or self.files_done == 0 or self.status != "running":
            return None
        elapsed = time.monotonic() - self.started_at
        return elapsed / self.files_done * (self.total_files - self.files_done)

    def snapshot(self) -> dict:
        """Return the job's progress as plain data for the UI and the CLI."""
        remaining = self.seconds_remaining
        return {
            "id": self.id, "kind": self.kind, "kb": self.kb_name, "status": self.status, "stage": self.stage,
            "file": self.current_file, "files_done": self.files_done, "total_files": self.total_files,
            "stage_done": self.stage_done, "stage_total": self.stage_total,
            "seconds_remaining": round(remaining, 1) if remaining is not None else None,
            "report": self.report.to_dict() if self.report else None,
        }


class JobRunner:
    """Run ingestion and rebuild jobs in worker threads; one runner per application."""

    def __init__(self, manager: KnowledgeBaseManager, workers: int = 1) -> None:
        self.manager = manager
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")
        self._jobs: dict[str, Job] = {}
        self._guard = threading.Lock()

    def submit_ingest(self, paths: list[Path], kb_name: str, owner: str,
                      display_names: dict[Path, str] | None = None,
                      on_finish: Callable[[Job], None] | None = None) -> Job:
        """Queue an ingestion of `paths` into `kb_name` and return its job at once."""
        job = self._register("ingest", kb_name, owner, total_files=len(paths))

        def work() -> None:
            job.report = self.manager.ingest(paths, kb_name, progress=self._progress(job),
                                             display_names=display_names, cancel=job.cancel_event)
            job.files_done = job.total_files = len(job.report.added + job.report.updated + job.report.unchanged
                                                   + job.report.failed + job.report.cancelled)

        self._pool.submit(self._run, job, work, on_finish)
        return job

    def submit_rebuild(self, kb_name: str, embedding_provider: str, owner: str) -> Job:
        """Queue re-embedding a knowledge base with another embedding provider."""
        job = self._register("rebuild", kb_name, owner, total_files=1)

        def work() -> None:
            self.manager.rebuild(kb_name, embedding_provider, progress=self._progress(job), cancel=job.cancel_event)

        self._pool.submit(self._run, job, work, None)
        return job

    def submit_reindex(self, file_name: str, kb_name: str, owner: str) -> Job:
        """Queue parsing, splitting and embedding a stored file again."""
        job = self._register("reindex", kb_name, owner, total_files=1)

        def work() -> None:
            job.report = self.manager.reindex(file_name, kb_name, progress=self._progress(job))

        self._pool.submit(self._run, job, work, None)
        return job

    def submit_resume(self, owner: str) -> Job:
        """Queue resuming the files that an interrupted ingestion left pending (run once at start-up)."""
        job = self._register("resume", "", owner, total_files=0)

        def work() -> None:
            reports = self.manager.resume_interrupted(progress=self._progress(job))
            job.files_done = job.total_files = sum(len(report.added + report.updated) for report in reports)

        self._pool.submit(self._run, job, work, None)
        return job

    def cancel(self, job_id: str, owner: str) -> bool:
        """Ask a job of `owner` to stop; return whether such a job was found still queued or running."""
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner or job.status not in {"queued", "running"}:
            return False
        job.cancel_event.set()
        return True

    def jobs(self, owner: str) -> list[Job]:
        """Return the jobs started by `owner`, newest first."""
        with self._guard:
            return sorted((job for job in self._jobs.values() if job.owner == owner),
                          key=lambda job: job.started_at or float("inf"), reverse=True)

    def get(self, job_id: str) -> Job | None:
        """Return a job by id."""
        return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until a job has finished (for the CLI and tests); return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self._jobs[job_id]
        while job.status in {"queued", "running"}:
            if deadline is not None and time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return job

    def shutdown(self) -> None:
        """Cancel queued and running jobs and wait for the workers to stop."""
        for job in list(self._jobs.values()):
            job.cancel_event.set()
        self._pool.shutdown(wait=True)

    def _register(self, kind: str, kb_name: str, owner: str, total_files: int) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind, kb_name=kb_name, owner=owner, total_files=total_files)
        with self._guard:
            self._jobs[job.id] = job
        return job

    def _run(self, job: Job, work: Callable[[], None], on_finish: Callable[[Job], None] | None) -> None:
        job.status = "running"
        job.started_at = time.monotonic()
        try:
            work()
            job.status = "cancelled" if job.cancel_event.is_set() else "done"
        except IngestCancelled:
            job.status = "cancelled"
        except LLMUniverseError as error:
            logger.warning("%s job %s on %s failed: %s", job.kind, job.id, job.kb_name, error)
            job.error = error
            job.status = "failed"
        except Exception:  # noqa: BLE001 - a worker must record every failure instead of dying silently
            logger.exception("%s job %s on %s crashed", job.kind, job.id, job.kb_name)
            job.error = LLMUniverseError("error.internal")
            job.status = "failed"
        finally:
            job.finished_at = time.monotonic()
        if on_finish is not None:
            on_finish(job)

    @staticmethod
    def _progress(job: Job):
        def update(stage: str, name: str, done: int, total: int) -> None:
            job.stage, job.current_file = stage, name
            if stage in {"parse", "done", "failed"}:
                # Folders and archives are expanded inside the job, so the file count is known only now.
                job.total_files = total
            if stage in {"done", "failed"}:
                job.files_done = done
            elif stage != "parse":
                job.stage_done, job.stage_total = done, total

        return update
