"""Tests for llm_universe.documents.loaders on real corpus files and on files generated in tmp_path."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from llm_universe.documents import SUPPORTED_EXTENSIONS, load_document, load_documents, read_text_file
from llm_universe.errors import (
    DocumentLoadError,
    EmptyDocumentError,
    EncodingDetectionError,
    UnsupportedFileType,
)

# The corpus lives in shared/ beside the repository, in a working copy and in CI alike.
CORPUS = Path(os.environ.get("LLM_UNIVERSE_CORPUS") or Path(__file__).resolve().parent.parent.parent / "shared" / "corpus")
EXTRA = CORPUS / "extra"
RULES = "人民检察院行政诉讼监督规则（试行）"
GBK_TXT = EXTRA / "derived" / f"{RULES}_GBK编码.txt"
TEXT_PDF = EXTRA / "derived" / f"{RULES}_文字版.pdf"
RULES_DOCX = EXTRA / "derived" / f"{RULES}.docx"
RULES_MD = EXTRA / "langchain-chatchat" / f"{RULES}(2016-04-15).md"
HOMEPAGE_HTML = EXTRA / "w3c-clreq" / "homepage.index.zh-hans.html"
PROVINCES_CSV = EXTRA / "admin-divisions-of-china" / "provinces.csv"
PUMPKIN_PDF = CORPUS / "llm-universe" / "knowledge_db" / "pumkin_book" / "pumpkin_book.pdf"

CHINESE = "第六条 当事人应当在六个月内提出。\n第七条 “不予受理”的情形如下：\n"
CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")


def test_read_text_gbk_corpus():
    text, encoding = read_text_file(GBK_TXT)

    assert encoding == "gb18030"
    assert "六个月" in text
    assert "\r" not in text


def test_read_text_utf8_chinese(tmp_path):
    path = tmp_path / "utf8.txt"
    path.write_bytes(CHINESE.encode("utf-8"))

    text, encoding = read_text_file(path)

    assert encoding == "utf-8"
    assert text == CHINESE


def test_read_text_utf8_bom(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + CHINESE.encode("utf-8"))

    text, encoding = read_text_file(path)

    assert encoding == "utf-8-sig"
    assert text == CHINESE


def test_read_text_gbk_generated(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes(CHINESE.encode("gbk"))

    text, encoding = read_text_file(path)

    assert encoding == "gb18030"
    assert text == CHINESE


def test_read_text_utf16_bom(tmp_path):
    path = tmp_path / "utf16.txt"
    path.write_bytes(CHINESE.encode("utf-16"))

    text, encoding = read_text_file(path)

    assert encoding == "utf-16"
    assert text == CHINESE


def test_read_text_crlf(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes("第一行\r\n第二行\r第三行\r\n".encode("utf-8"))

    text, _ = read_text_file(path)

    assert text == "第一行\n第二行\n第三行\n"


def test_read_text_undecodable(tmp_path):
    path = tmp_path / "binary.txt"
    path.write_bytes(b"abc\xff\xfe\xff\x80")

    with pytest.raises(EncodingDetectionError) as info:
        read_text_file(path)

    assert info.value.message("zh") == "无法识别文件 binary.txt 的编码（已尝试 UTF-8、GB18030）。请另存为 UTF-8 后重新上传。"


def test_read_text_nul_bytes(tmp_path):
    path = tmp_path / "nul.txt"
    path.write_bytes(b"a\x00b\x00c\x00")

    with pytest.raises(EncodingDetectionError):
        read_text_file(path)


def test_txt_metadata():
    documents = load_document(GBK_TXT)

    assert len(documents) == 1
    assert documents[0].metadata == {
        "source": GBK_TXT.name, "file_type": "txt", "page": None, "quality": 1.0, "ocr": False, "parse_quality": 1.0,
    }


def test_display_name_is_base_name(tmp_path):
    path = tmp_path / "upload-1234.txt"
    path.write_text(CHINESE, encoding="utf-8")

    documents = load_document(path, display_name="C:\\Users\\张三\\资料/规则.txt")

    assert documents[0].metadata["source"] == "规则.txt"


def test_markdown_kept_as_is():
    documents = load_document(RULES_MD)

    assert len(documents) == 1
    assert documents[0].metadata["file_type"] == "md"
    assert documents[0].page_content.startswith(f"# {RULES}\n")
    assert "## 第一章 总 则" in documents[0].page_content


def test_pdf_pages_one_based():
    documents = load_document(TEXT_PDF)
    pages = [document.metadata["page"] for document in documents]
    text = "".join(document.page_content for document in documents)

    assert pages == [1, 2, 3, 4, 5, 6]
    assert "六个月" in text
    assert "\r" not in text
    assert documents[0].metadata["source"] == TEXT_PDF.name
    assert documents[0].metadata["file_type"] == "pdf"


def test_pdf_pumpkin_book():
    documents = load_document(PUMPKIN_PDF)
    pages = [document.metadata["page"] for document in documents]
    cjk_count = sum(len(CJK_CHAR.findall(document.page_content)) for document in documents)

    assert pages == sorted(pages)
    assert pages[0] == 1
    assert pages[-1] == 196
    assert len(pages) > 180
    assert cjk_count > 50_000


def test_pdf_garbage(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(random.Random(0).randbytes(4096))

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("en").startswith("Could not read broken.pdf: not a valid PDF; it may be damaged, truncated or encrypted")


def test_pdf_truncated(tmp_path):
    path = tmp_path / "truncated.pdf"
    path.write_bytes(TEXT_PDF.read_bytes()[:20_000])

    with pytest.raises(DocumentLoadError):
        load_document(path)


def test_docx_headings_and_table():
    text = load_document(RULES_DOCX)[0].page_content

    assert text.startswith(f"# {RULES}\n")
    assert "\n# 第一章 总 则\n" in text
    assert "| 章 | 条文数 | 起始条 | 结束条 |\n| --- | --- | --- | --- |\n| 第一章 总 则 | 4 | 第一条 | 第四条 |" in text
    assert "六个月" in text


def test_docx_table_in_document_order():
    text = load_document(RULES_DOCX)[0].page_content

    assert text.index("附表") < text.index("| 第一章 总 则 | 4 |") < text.index("2016年3月22日")


def test_docx_generated(tmp_path):
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.add_heading("总则", level=1)
    document.add_paragraph("第一条 为了规范管理，制定本办法。")
    table = document.add_table(rows=2, cols=2)
    for cell, value in zip(table.rows[0].cells + table.rows[1].cells, ["姓名", "年龄", "张三", "30"]):
        cell.text = value
    document.styles.add_style("标题 2", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("附则", style="标题 2")
    document.add_paragraph("第二条 本办法自发布之日起施行。")
    path = tmp_path / "generated.docx"
    document.save(path)

    text = load_document(path)[0].page_content

    assert text == (
        "# 总则\n\n第一条 为了规范管理，制定本办法。\n\n| 姓名 | 年龄 |\n| --- | --- |\n| 张三 | 30 |\n\n"
        "## 附则\n\n第二条 本办法自发布之日起施行。"
    )


def test_docx_garbage(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(random.Random(1).randbytes(4096))

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("en") == (
        "Could not read broken.docx: not a valid .docx file (save an old .doc file as .docx first). "
        "Check that the file is not damaged and upload it again."
    )


def test_html_drops_script():
    text = load_document(HOMEPAGE_HTML)[0].page_content

    assert "f.directory" not in text
    assert "mainNavigation" not in text
    assert "div.content" not in text
    assert text.startswith("# 中文文字布局需求特别任务组 主页\n")
    assert "\n## 任务\n" in text
    assert "收集和梳理中文" in text


def test_html_generated(tmp_path):
    html = """<!DOCTYPE html><html><head><meta charset="gbk"><title>标题页</title>
    <style>p { color: red }</style></head><body>
    <noscript>请启用脚本</noscript><template><p>模板内容</p></template>
    <h2>第一节</h2><p>正文第一段，
    跨行。</p>
    <table><tr><th>省份</th><th>简称</th></tr><tr><td>北京市</td><td>京</td></tr></table>
    <script>var secret = 1;</script></body></html>"""
    path = tmp_path / "page.html"
    path.write_bytes(html.encode("gbk"))

    text = load_document(path)[0].page_content

    assert text == "# 标题页\n\n## 第一节\n\n正文第一段， 跨行。\n\n| 省份 | 简称 |\n| --- | --- |\n| 北京市 | 京 |"


def test_csv_rows():
    text = load_document(PROVINCES_CSV)[0].page_content
    lines = text.split("\n")

    assert lines[0] == "code: 11; name: 北京市"
    assert "code: 65; name: 新疆维吾尔自治区" in lines
    assert len(lines) == 31


def test_csv_gbk_semicolon(tmp_path):
    path = tmp_path / "cities.csv"
    path.write_bytes("城市;人口\n上海;2487\n广州;1868\n".encode("gbk"))

    text = load_document(path)[0].page_content

    assert text == "城市: 上海; 人口: 2487\n城市: 广州; 人口: 1868"


def test_unsupported_type(tmp_path):
    path = tmp_path / "notes.xyz"
    path.write_text("内容", encoding="utf-8")

    with pytest.raises(UnsupportedFileType) as info:
        load_document(path)

    supported = ", ".join(SUPPORTED_EXTENSIONS)
    assert info.value.message("zh") == f"不支持的文件类型「.xyz」：notes.xyz。支持的类型：{supported}。"


def test_empty_txt(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")

    with pytest.raises(EmptyDocumentError) as info:
        load_document(path)

    assert info.value.message("zh") == "文件 empty.txt 是空文件（0 字节），可能在上传或复制时中断了。请检查原文件后重新上传。"


def test_whitespace_txt(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text(" \r\n\t\u3000\n", encoding="utf-8")

    with pytest.raises(EmptyDocumentError):
        load_document(path)


@pytest.mark.parametrize("name", ["missing.md", "missing.docx", "missing.pdf", "missing.html"])
def test_missing_file(tmp_path, name):
    with pytest.raises(DocumentLoadError) as info:
        load_document(tmp_path / name)

    assert info.value.message("en").startswith(f"Could not read {name}: the file does not exist.")


def test_folder_not_file(tmp_path):
    folder = tmp_path / "folder.txt"
    folder.mkdir()

    with pytest.raises(DocumentLoadError) as info:
        load_document(folder)

    assert info.value.message("zh").startswith("无法读取文件 folder.txt：这是文件夹，不是文件。")


def test_batch_goes_on(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(CHINESE, encoding="utf-8")
    bad = tmp_path / "bad.xyz"
    bad.write_text("x", encoding="utf-8")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")

    documents, failures = load_documents([good, bad, broken, RULES_MD])

    assert [document.metadata["source"] for document in documents] == ["good.txt", RULES_MD.name]
    assert [path for path, _ in failures] == [bad, broken]
    assert isinstance(failures[0][1], UnsupportedFileType)
    assert isinstance(failures[1][1], DocumentLoadError)


def test_docx_merged_header(tmp_path):
    import docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "合并"
    table.cell(0, 2).text = "右"
    for column, value in enumerate(["x", "y", "z"]):
        table.cell(1, column).text = value
    path = tmp_path / "merged.docx"
    document.save(path)

    text = load_document(path)[0].page_content

    assert text == "| 合并 |  | 右 |\n| --- | --- | --- |\n| x | y | z |"
