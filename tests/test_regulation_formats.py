"""End-to-end: each format of the regulation, alone in a fresh knowledge base, answers the same question.

These tests use the bundled offline embedding model and the extractive answer (no LLM configured), so
the answer quotes the retrieved sentences. Table questions check that the row with the asked cell is
among the top five sources.
"""

from __future__ import annotations

import pytest
from conftest import corpus_file

from llm_universe.service import Assistant

RULES = "人民检察院行政诉讼监督规则（试行）"
QUESTION = "当事人申请监督的期限是多久？"

REGULATION_FORMATS = {
    "gbk-txt": f"extra/derived/{RULES}_GBK编码.txt",
    "docx": f"extra/derived/{RULES}.docx",
    "text-pdf": f"extra/derived/{RULES}_文字版.pdf",
    "scanned-pdf": f"extra/derived/{RULES}_扫描件.pdf",
}

TABLE_QUESTIONS = [
    ("extra/pymupdf-tests/chinese-tables.pdf", "兴业银行盐城分行的授信总额是多少？", "兴业银行盐城分行 302,600.00"),
    ("extra/pymupdf-tests/chinese-tables.pdf", "渤海银行的剩余额度是多少？", "渤海银行 98,000.00 0.00 98,000.00"),
    ("extra/derived/中国行政区划_省级与地级.xlsx", "唐山市的行政区划代码是多少？", "代码: 1302; 名称: 唐山市"),
    ("extra/derived/中国行政区划_省级与地级.xlsx", "代码为 6543 的地级行政区是哪个？", "代码: 6543; 名称: 阿勒泰地区"),
]


def ask_alone(settings, relative: str, question: str):
    """Index one corpus file in a new knowledge base and return the final AnswerResult for `question`."""
    assistant = Assistant(settings)
    assistant.knowledge_bases.create("法规库")
    report = assistant.knowledge_bases.ingest([corpus_file(relative)], "法规库")
    assert report.failed == [], report.failed

    return list(assistant.ask(question, ["法规库"]))[-1]


@pytest.mark.parametrize("relative", REGULATION_FORMATS.values(), ids=REGULATION_FORMATS.keys())
def test_regulation_answers_deadline(real_settings, relative):
    result = ask_alone(real_settings, relative, QUESTION)

    assert "六个月" in result.answer, result.answer
    assert result.sources[0].source == corpus_file(relative).name


@pytest.mark.parametrize(("relative", "question", "row"), TABLE_QUESTIONS, ids=["pdf-bank", "pdf-balance", "xlsx-name", "xlsx-code"])
def test_table_cell_retrieved(real_settings, relative, question, row):
    result = ask_alone(real_settings, relative, question)
    texts = [source.text for source in result.sources[:5]]

    assert any(row in text for text in texts), texts
