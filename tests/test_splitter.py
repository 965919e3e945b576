"""Tests for llm_universe.documents.splitter on real corpus files and on generated text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from langchain_core.documents import Document

from llm_universe.documents import ChineseTextSplitter, load_document, split_documents

# The corpus lives in shared/ beside the repository, in a working copy and in CI alike.
CORPUS = Path(os.environ.get("LLM_UNIVERSE_CORPUS") or Path(__file__).resolve().parent.parent.parent / "shared" / "corpus")
EXTRA = CORPUS / "extra"
RULES = "人民检察院行政诉讼监督规则（试行）"
RULES_MD = EXTRA / "langchain-chatchat" / f"{RULES}(2016-04-15).md"
GBK_TXT = EXTRA / "derived" / f"{RULES}_GBK编码.txt"
TEXT_PDF = EXTRA / "derived" / f"{RULES}_文字版.pdf"
RULES_DOCX = EXTRA / "derived" / f"{RULES}.docx"
PYTHON_MD = EXTRA / "oi-wiki" / "python.md"

# Sentence and clause punctuation, and closing marks, that must stay with the text before them.
NO_LEADING = "。！？；…．，、：」』”’）】》"
CORPUS_FILES = [RULES_MD, GBK_TXT, TEXT_PDF, RULES_DOCX, PYTHON_MD]


def chunks_of(path: Path, chunk_size: int = 500, chunk_overlap: int = 50) -> list[Document]:
    return split_documents(load_document(path), chunk_size=chunk_size, chunk_overlap=chunk_overlap)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.suffix)
@pytest.mark.parametrize("chunk_size", [80, 500])
def test_corpus_punctuation_stays(path, chunk_size):
    for chunk in chunks_of(path, chunk_size, chunk_size // 5):
        assert chunk.page_content[0] not in NO_LEADING, chunk.page_content


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.suffix)
@pytest.mark.parametrize("chunk_size", [80, 500])
def test_corpus_chunk_size_kept(path, chunk_size):
    for chunk in chunks_of(path, chunk_size, chunk_size // 5):
        assert 0 < len(chunk.page_content) <= chunk_size, chunk.page_content


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.suffix)
def test_corpus_no_blank_chunks(path):
    for chunk in chunks_of(path, 200, 40):
        assert chunk.page_content.strip() == chunk.page_content, repr(chunk.page_content)
        assert chunk.page_content, chunk.metadata


def test_sentence_marks_and_quotes():
    text = "他说：“明天见。”然后走了！她问：“为什么？”没有人回答……大家都沉默了；天黑了。」结束"
    splitter = ChineseTextSplitter(chunk_size=12, chunk_overlap=0)

    chunks = splitter.split_text(text)

    assert "".join(chunks) == text
    assert all(chunk[0] not in NO_LEADING for chunk in chunks), chunks
    assert "“明天见。”" in "".join(chunk for chunk in chunks if "明天见" in chunk)


def test_sentence_stays_whole():
    sentences = [f"第{i}句话说明了一个事实。" for i in range(1, 30)]
    splitter = ChineseTextSplitter(chunk_size=60, chunk_overlap=0)

    chunks = splitter.split_text("".join(sentences))

    for chunk in chunks:
        assert chunk.endswith("。"), chunk
        assert chunk.startswith("第"), chunk


def test_halfwidth_punctuation():
    text = "Is this right? Yes! It works; fine. 中文也行!下一句?再一句;结束"
    splitter = ChineseTextSplitter(chunk_size=6, chunk_overlap=0)

    chunks = splitter.split_text(text)

    assert all(chunk[0] not in "!?;." for chunk in chunks), chunks
    assert "中文也行!" in chunks
    assert "下一句?" in chunks


def test_headings_regulation_md():
    chunks = chunks_of(RULES_MD)
    article_3 = next(chunk for chunk in chunks if "第三条" in chunk.page_content)
    article_14 = next(chunk for chunk in chunks if "第十四条" in chunk.page_content)

    assert chunks[0].metadata["headings"] == RULES
    assert article_3.metadata["headings"] == f"{RULES} > 第一章 总 则"
    assert article_14.metadata["headings"] == f"{RULES} > 第四章 对生效判决、裁定、调解书的监督 > 第一节 一般规定"


def test_headings_not_prefixed():
    chunks = chunks_of(RULES_MD)
    article_3 = next(chunk for chunk in chunks if "第三条" in chunk.page_content)

    assert article_3.page_content.startswith("## 第一章 总 则\n\n第一条")


@pytest.mark.parametrize("chunk_size", [40, 100, 500])
def test_no_chunk_ends_with_heading(chunk_size):
    for chunk in chunks_of(RULES_MD, chunk_size, chunk_size // 5):
        assert not chunk.page_content.split("\n")[-1].startswith("#"), chunk.page_content


def test_heading_glued_to_long_paragraph():
    text = "# 总则\n\n" + "本条规定适用范围，" * 50 + "完。\n\n# 附则\n\n本规则自发布之日起施行。"
    splitter = ChineseTextSplitter(chunk_size=100, chunk_overlap=10)

    chunks = splitter.split_documents([Document(page_content=text, metadata={"source": "a.md"})])

    assert chunks[0].page_content.startswith("# 总则\n\n本条规定适用范围，")
    assert chunks[-1].page_content == "# 附则\n\n本规则自发布之日起施行。"
    assert chunks[-1].metadata["headings"] == "附则"


def test_consecutive_headings_merged():
    text = "# 第四章\n\n## 第一节\n\n第十四条 内容。"

    chunks = split_documents([Document(page_content=text, metadata={"source": "a.md"})])

    assert len(chunks) == 1
    assert chunks[0].page_content == text
    assert chunks[0].metadata["headings"] == "第四章 > 第一节"


def test_code_comments_not_headings():
    headings = {chunk.metadata["headings"] for chunk in chunks_of(PYTHON_MD)}

    assert "关于 Python > Python 的优点" in headings
    assert not any("单行注释" in heading for heading in headings), headings
    assert not any("include" in heading for heading in headings), headings
    assert not any("global" in heading for heading in headings), headings


def test_fences_backtick_and_tilde():
    text = "# 真标题\n\n```python\n# 假标题一\nx = 1\n```\n\n~~~\n## 假标题二\n~~~\n\n正文。"

    chunks = split_documents([Document(page_content=text, metadata={"source": "a.md"})])

    assert [chunk.metadata["headings"] for chunk in chunks] == ["真标题"]


def test_pdf_hash_lines_not_headings():
    document = Document(page_content="# 这是代码注释\nprint(1)\n", metadata={"source": "a.pdf", "file_type": "pdf", "page": 3})

    chunks = split_documents([document])

    assert chunks[0].metadata["headings"] == ""
    assert chunks[0].metadata["page"] == 3


def test_long_line_without_punctuation():
    text = "中" * 20_000
    splitter = ChineseTextSplitter(chunk_size=500, chunk_overlap=50)

    chunks = splitter.split_text(text)

    assert max(len(chunk) for chunk in chunks) <= 500
    assert len(chunks) >= 40
    assert sum(len(chunk) for chunk in chunks) >= 20_000


def test_long_ascii_word():
    text = "a" * 20_000 + "。"
    splitter = ChineseTextSplitter(chunk_size=300, chunk_overlap=0)

    chunks = splitter.split_text(text)

    assert "".join(chunks) == text
    assert max(len(chunk) for chunk in chunks) <= 300
    assert chunks[-1][0] != "。"


def test_overlap_within_section():
    text = "".join(f"第{i}句内容较短。" for i in range(1, 40))
    splitter = ChineseTextSplitter(chunk_size=50, chunk_overlap=20)

    chunks = splitter.split_text(text)

    for previous, chunk in zip(chunks, chunks[1:]):
        overlap = max(size for size in range(len(chunk)) if previous.endswith(chunk[:size]))
        assert 0 < overlap <= 20, (previous, chunk)
        assert chunk.startswith("第"), chunk


def test_no_overlap_across_sections():
    text = "# 甲\n\n" + "甲节内容。" * 30 + "\n\n# 乙\n\n" + "乙节内容。" * 30
    splitter = ChineseTextSplitter(chunk_size=60, chunk_overlap=20)

    chunks = splitter.split_documents([Document(page_content=text, metadata={"source": "a.md"})])
    first_b = next(chunk for chunk in chunks if chunk.metadata["headings"] == "乙")

    assert first_b.page_content.startswith("# 乙\n\n乙节内容。")
    assert "甲" not in first_b.page_content


def test_chunk_index_per_source():
    pages = [
        Document(page_content="第一页。" * 40, metadata={"source": "a.pdf", "file_type": "pdf", "page": 1}),
        Document(page_content="第二页。" * 40, metadata={"source": "a.pdf", "file_type": "pdf", "page": 2}),
        Document(page_content="另一个文件。", metadata={"source": "b.txt", "file_type": "txt", "page": None}),
    ]

    chunks = split_documents(pages, chunk_size=50, chunk_overlap=0)
    a_indexes = [chunk.metadata["chunk_index"] for chunk in chunks if chunk.metadata["source"] == "a.pdf"]
    b_chunks = [chunk for chunk in chunks if chunk.metadata["source"] == "b.txt"]

    assert a_indexes == list(range(len(a_indexes)))
    assert {chunk.metadata["page"] for chunk in chunks if chunk.metadata["source"] == "a.pdf"} == {1, 2}
    assert b_chunks[0].metadata == {"source": "b.txt", "file_type": "txt", "page": None, "headings": "", "chunk_index": 0}


def test_whitespace_only_text():
    splitter = ChineseTextSplitter()

    assert splitter.split_text(" \n\n\u3000\n") == []


@pytest.mark.parametrize(
    ("chunk_size", "chunk_overlap", "parameter"),
    [
        (0, 0, "chunk_size"),
        (-5, 0, "chunk_size"),
        (100, -1, "chunk_overlap"),
        (100, 100, "chunk_overlap"),
        (100, 150, "chunk_overlap"),
    ],
    ids=["size-zero", "size-negative", "overlap-negative", "overlap-equal", "overlap-larger"],
)
def test_invalid_sizes(chunk_size, chunk_overlap, parameter):
    with pytest.raises(ValueError, match=f"^{parameter} must be"):
        ChineseTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)


def test_invalid_overlap_message():
    with pytest.raises(ValueError) as info:
        ChineseTextSplitter(chunk_size=100, chunk_overlap=100)

    assert info.value.message("zh") == "分块重叠 chunk_overlap 必须是不小于 0 且小于 chunk_size（100）的整数，当前值为 100。"


def test_headings_path_pops_levels():
    text = "# A\n\n正文。\n\n## B\n\n正文。\n\n### C\n\n正文。\n\n## D\n\n正文。\n\n# E\n\n正文。"

    chunks = split_documents([Document(page_content=text, metadata={"source": "a.md"})])

    assert [chunk.metadata["headings"] for chunk in chunks] == ["A", "A > B", "A > B > C", "A > D", "E"]


def test_heading_link_reduced():
    text = "## [基本输入输出](https://example.org/io) ##\n\n正文。"

    chunks = split_documents([Document(page_content=text, metadata={"source": "a.md"})])

    assert chunks[0].metadata["headings"] == "基本输入输出"


def test_hash_without_space_not_heading():
    text = "#include <stdio.h>\n#标签\n正文。"

    chunks = split_documents([Document(page_content=text, metadata={"source": "a.md"})])

    assert chunks[0].metadata["headings"] == ""


def test_text_reproduced_without_overlap():
    text = load_document(RULES_MD)[0].page_content
    splitter = ChineseTextSplitter(chunk_size=120, chunk_overlap=0)

    chunks = splitter.split_text(text)

    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", text)


def test_space_before_mark():
    text = "这是一句比较长的话 。" * 30
    splitter = ChineseTextSplitter(chunk_size=15, chunk_overlap=5)

    chunks = splitter.split_text(text)

    for chunk in chunks:
        assert chunk[0] != "。", chunks
