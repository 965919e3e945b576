"""Ingestion safety: archives, hostile names and sizes, symlinks, crash recovery, concurrent writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT, corpus_file
from llm_universe.documents import ChineseTextSplitter, load_document
from llm_universe.knowledge_base import KnowledgeBaseManager
from llm_universe.knowledge_base.vector_index import VectorIndex, get_client

REGULATION_MD = "extra/langchain-chatchat/人民检察院行政诉讼监督规则（试行）(2016-04-15).md"


@pytest.fixture
def manager(settings) -> KnowledgeBaseManager:
    manager = KnowledgeBaseManager(settings)
    manager.create("库")
    return manager


def make_zip(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def test_zip_members_ingested(manager, tmp_path):
    archive = make_zip(tmp_path / "notes.zip", {
        "a/ship.md": "蓝鲸号飞船的船长叫做林默。".encode(),
        "b/ship.md": "红隼号潜艇的艇长叫做苏晴。".encode(),
        "readme.txt": "说明文件。".encode(),
    })

    report = manager.ingest([archive], "库")

    assert sorted(report.added) == ["notes_a_ship.md", "notes_b_ship.md", "notes_readme.txt"]
    assert report.failed == []


def test_zip_unsafe_members_skipped(manager, tmp_path):
    archive = make_zip(tmp_path / "evil.zip", {
        "../../escape.md": b"escape",
        "/abs/path.md": b"absolute",
        "inner.zip": b"PK nested",
        "ok.md": "安全的文件。".encode(),
    }, symlinks={"link.md": "/etc/passwd"})

    report = manager.ingest([archive], "库")

    assert report.added == ["evil_ok.md"]
    assert any("escape.md (path traversal)" in item for item in report.skipped)
    assert any("path.md (path traversal)" in item for item in report.skipped)
    assert any("inner.zip (nested archive)" in item for item in report.skipped)
    assert any("link.md (symlink)" in item for item in report.skipped)
    assert not (tmp_path.parent / "escape.md").exists()


def test_zip_bomb_member_skipped(manager, tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"zeros.txt": b"0" * (20 << 20), "ok.md": "正常内容。".encode()})

    report = manager.ingest([archive], "库")

    assert report.added == ["bomb_ok.md"]
    assert any("zeros.txt (compression ratio too high)" in item for item in report.skipped)


def test_zip_too_large_rejected(settings, tmp_path):
    manager = KnowledgeBaseManager(settings.replace(max_upload_mb=1))
    manager.create("库")
    payload = os.urandom(700_000)
    archive = make_zip(tmp_path / "big.zip", {"a.txt": payload, "b.txt": payload})

    report = manager.ingest([archive], "库")

    assert report.added == []
    assert report.failed[0]["error"] == "无法处理压缩包 big.zip：解压后超过 1 MB。压缩包中的文件均未导入。"


def test_broken_zip_rejected(manager, tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")

    report = manager.ingest([broken], "库")

    assert report.failed[0]["error"].startswith("无法处理压缩包 broken.zip：不是有效的 zip 文件或已损坏")


def test_file_over_limit_rejected(settings, tmp_path):
    manager = KnowledgeBaseManager(settings.replace(max_upload_mb=1))
    manager.create("库")
    big = tmp_path / "big.txt"
    big.write_text("大" * 600_000, encoding="utf-8")

    report = manager.ingest([big], "库")

    assert report.failed[0]["error"] == "文件 big.txt 大小为 1.7 MB，超过上限 1 MB。可调整 LLM_UNIVERSE_MAX_UPLOAD_MB。"
    assert manager.index(manager.get("库")).count() == 0


def test_symlink_rejected(manager, tmp_path):
    target = tmp_path / "real.md"
    target.write_text("真实内容。", encoding="utf-8")
    link = tmp_path / "link.md"
    link.symlink_to(target)

    report = manager.ingest([link], "库")

    assert report.failed[0]["error"].startswith("文件 link.md 是符号链接")


@pytest.mark.parametrize(("payload", "expected"), [(b"", "是空文件（0 字节）"), (b"   \n\n  ", "没有可提取的文字")],
                         ids=["zero-bytes", "whitespace"])
def test_empty_file_rejected(manager, tmp_path, payload, expected):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(payload)

    report = manager.ingest([empty], "库")

    assert expected in report.failed[0]["error"]
    assert manager.index(manager.get("库")).count() == 0


def test_failed_update_keeps_previous_version(manager, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("第一版内容：蓝鲸号。", encoding="utf-8")
    manager.ingest([note], "库")
    note.write_bytes(b"\x00\x01\x02 binary garbage")

    report = manager.ingest([note], "库")

    row = manager.files("库")[0]
    texts = [hit.text for hit in manager.index(manager.get("库")).get_chunks()]
    assert len(report.failed) == 1
    assert row["status"] == "indexed"
    assert row["error"]
    assert texts == ["第一版内容：蓝鲸号。"]


def test_rename_keeps_content(manager, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    manager.ingest([note], "库")

    renamed = manager.rename("库", "新名字 🚀")

    assert renamed.name == "新名字 🚀"
    assert manager.find("库") is None
    assert manager.search(["新名字 🚀"], "船长", k=1)[0][1].metadata["source"] == "note.txt"


def test_stats_report_size(manager, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("内容。", encoding="utf-8")
    manager.ingest([note], "库")

    stats = manager.stats(manager.get("库"))

    assert stats["files"] == 1
    assert stats["chunks"] == 1
    assert stats["size_bytes"] == note.stat().st_size


def test_concurrent_ingest_no_duplicates(settings, tmp_path):
    first = KnowledgeBaseManager(settings)
    first.create("库")
    second = KnowledgeBaseManager(settings)
    source = corpus_file(REGULATION_MD)
    reports = []

    threads = [threading.Thread(target=lambda m=m: reports.append(m.ingest([source], "库"))) for m in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    outcomes = sorted((len(r.added), len(r.unchanged)) for r in reports)
    chunk_count = first.files("库")[0]["chunk_count"]
    assert outcomes == [(0, 1), (1, 0)]
    assert first.index(first.get("库")).count() == chunk_count


SLOW_INGEST = """
import sys, time
from llm_universe.embeddings.fake import FakeEmbeddings
original = FakeEmbeddings.embed_documents
def slow(self, texts):
    time.sleep(0.4)
    return original(self, texts)
FakeEmbeddings.embed_documents = slow
from llm_universe.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_mid_ingest_then_resume(subprocess_env, settings, isolated_env):
    """kill -9 during embedding leaves no partial file; the restart resumes it from the staged copy."""
    book = corpus_file("llm-universe/knowledge_db/pumkin_book/pumpkin_book.pdf")
    env = {**subprocess_env, "LLM_UNIVERSE_EMBEDDING": "fake"}
    process = subprocess.Popen([sys.executable, "-c", SLOW_INGEST, "ingest", str(book), "--kb", "库"],
                               env=env, cwd=str(REPO_ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        kb_id = wait_for_partial_write(isolated_env / "llm_universe.sqlite3", settings)
        written_before_kill = VectorIndex(get_client(settings.vector_dir), f"kb_{kb_id}").count()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    manager = KnowledgeBaseManager(settings)
    kb = manager.get("库")
    after_crash = manager.files("库")
    assert manager.index(kb).count() == 0
    assert [(row["name"], row["status"]) for row in after_crash] == [("pumpkin_book.pdf", "pending")]

    reports = manager.resume_interrupted()

    row = manager.files("库")[0]
    assert reports[0].added == ["pumpkin_book.pdf"]
    assert row["status"] == "indexed"
    expected_chunks = len(ChineseTextSplitter(kb.chunk_size, kb.chunk_overlap).split_documents(load_document(book)))
    assert 0 < written_before_kill < expected_chunks
    assert manager.index(kb).count() == row["chunk_count"] == expected_chunks
    assert list((manager.source_dir(kb) / ".incoming").iterdir()) == []
    assert (manager.source_dir(kb) / "pumpkin_book.pdf").exists()


def wait_for_partial_write(database: Path, settings, timeout: float = 120) -> str:
    """Block until the child process is writing the chunks of its file; return the knowledge base id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if not database.exists():
            continue
        try:
            with sqlite3.connect(database, timeout=5) as connection:
                row = connection.execute("SELECT status, kb_id FROM files").fetchone()
        except sqlite3.OperationalError:
            continue
        if row and row[0] == "embedding":
            time.sleep(1.0)  # let two or three batches reach Chroma
            return row[1]
    raise AssertionError("the ingest subprocess never reached the embedding stage")


def test_zip_gbk_member_names(manager, tmp_path):
    archive = tmp_path / "windows.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(zipfile.ZipInfo("abcdefgh.txt"), "内容。".encode())
    # Rewrite the name the way Windows' zip stores it: GBK bytes (same length here), no UTF-8 flag.
    archive.write_bytes(archive.read_bytes().replace(b"abcdefgh.txt", "中文名字.txt".encode("gbk")))

    report = manager.ingest([archive], "库")

    assert report.added == ["windows_中文名字.txt"]


def test_symlinked_folder_rejected(manager, tmp_path):
    folder = tmp_path / "real"
    folder.mkdir()
    (folder / "a.md").write_text("内容。", encoding="utf-8")
    link = tmp_path / "linkdir"
    link.symlink_to(folder, target_is_directory=True)

    report = manager.ingest([link], "库")

    assert report.added == []
    assert report.failed[0]["error"].startswith("文件 linkdir 是符号链接")


def test_sample_kb_completes_after_interrupted_start(settings, tmp_path):
    from llm_universe.knowledge_base import ensure_sample_kb

    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "一.md").write_text("第一个文件。", encoding="utf-8")
    (sample / "二.md").write_text("第二个文件。", encoding="utf-8")
    manager = KnowledgeBaseManager(settings)
    manager.create("示例知识库", kb_id="sample")
    manager.ingest([sample / "一.md"], "示例知识库")  # the first start was killed after one file

    report = ensure_sample_kb(manager, source_dir=sample)

    assert report.unchanged == ["一.md"]
    assert report.added == ["二.md"]
    assert ensure_sample_kb(manager, source_dir=sample) is None
