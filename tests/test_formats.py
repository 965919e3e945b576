"""Tests for the newer formats, hostile files, table splitting and text-quality checks in llm_universe.documents."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from conftest import corpus_file
from langchain_core.documents import Document

from llm_universe.documents import SUPPORTED_EXTENSIONS, load_document, parse_quality, split_documents
from llm_universe.documents.cleaning import (
    garbled_ratio,
    has_cjk_spacing_artifacts,
    join_wrapped_lines,
    repair_cjk_spacing,
    text_quality,
)
from llm_universe.errors import DocumentLoadError, EmptyDocumentError

RULES = "人民检察院行政诉讼监督规则（试行）"
XLSX = "extra/derived/中国行政区划_省级与地级.xlsx"
TEXT_PDF = f"extra/derived/{RULES}_文字版.pdf"
SRT = "llm-universe/knowledge_db/easy_rl/强化学习入门指南.srt"
VTT = "llm-universe/knowledge_db/easy_rl/强化学习入门指南.vtt"
WHISPER_JSON = "llm-universe/knowledge_db/easy_rl/强化学习入门指南.json"
OCR_DOCX = "extra/langchain-chatchat/ocr_test.docx"
OCR_PPTX = "extra/langchain-chatchat/ocr_test.pptx"
OP_MD = "extra/oi-wiki/op.md"

SENTENCE = "大模型是一种基于深度学习的语言模型，它可以理解和生成自然语言文本。"


def make_pdf(pages: list[list[str]], encrypt: bool = False) -> bytes:
    """Build a PDF whose pages show the given lines in Adobe's STSong-Light CJK font (not embedded).

    The text is written as UCS-2 codes through the predefined UniGB-UCS2-H CMap, so PDFium extracts
    exactly these characters. With `encrypt`, the file gets a standard security handler whose
    password check fails for the empty password, as in a PDF protected by an open password.
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts "
        b"[<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> >>] >>"
    )
    contents = []
    for lines in pages:
        operations = [b"BT /F1 12 Tf 14 TL 40 800 Td"]
        operations += [b"<" + line.encode("utf-16-be").hex().encode() + b"> Tj T*" for line in lines]
        stream = b"\n".join(operations + [b"ET"])
        contents.append(add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)))
    pages_id = len(objects) + len(pages) + 1
    page_ids = [
        add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (pages_id, font, content))
        for content in contents
    ]
    add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % page for page in page_ids), len(page_ids)))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    trailer = b"/Root %d 0 R" % catalog
    if encrypt:
        security = add(b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -4 >>" % (b"ab" * 32, b"cd" * 32))
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (security, b"01" * 16, b"01" * 16)

    output = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(output)
    output += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    output += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    output += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(output)


def png_bytes(color: str = "white", size: tuple[int, int] = (200, 120)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def docx_with_picture(path: Path, image: bytes) -> Path:
    import docx

    document = docx.Document()
    document.add_picture(io.BytesIO(image))
    document.save(path)
    return path


def corpus_docx_picture() -> bytes:
    with zipfile.ZipFile(corpus_file(OCR_DOCX)) as archive:
        name = next(name for name in archive.namelist() if name.startswith("word/media/image"))
        return archive.read(name)


# --- XLSX ---------------------------------------------------------------------------------------


def test_xlsx_every_sheet():
    documents = load_document(corpus_file(XLSX))

    assert [document.metadata["sheet"] for document in documents] == ["省级", "地级"]
    assert documents[0].page_content.startswith("# 省级\n\n代码: 11; 名称: 北京市\n")
    assert "代码: 1302; 名称: 唐山市; 省级代码: 13" in documents[1].page_content.split("\n")


def test_xlsx_note_beside_header_kept():
    text = load_document(corpus_file(XLSX))[1].page_content

    assert "\n说明：数据整理自国家统计局统计用区划代码" in text
    assert "说明：数据整理自国家统计局统计用区划代码（经 modood/Administrative-divisions-of-China）:" not in text


def test_xlsx_cached_formula_value(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "销售"
    sheet.append(["产品", "单价", "数量", "金额"])
    sheet.append(["苹果", 2.5, 4, "=B2*C2"])
    plain = tmp_path / "plain.xlsx"
    workbook.save(plain)
    # openpyxl writes no cached result, so store the value Excel would have saved beside the formula.
    path = tmp_path / "formula.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<f>B2*C2</f><v></v>", b"<f>B2*C2</f><v>10</v>")
            target.writestr(item, data)

    text = load_document(path)[0].page_content

    assert text == "# 销售\n\n产品: 苹果; 单价: 2.5; 数量: 4; 金额: 10"
    assert "B2*C2" not in text


def test_xlsx_title_row_and_merged_rows(tmp_path):
    import datetime

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["2024年分行授信表"])
    sheet.merge_cells("A1:C1")
    sheet.append(["地区", "分行", "日期"])
    sheet.append(["江苏", "盐城分行", datetime.datetime(2024, 3, 31)])
    sheet.append([None, "南京分行", datetime.datetime(2024, 3, 31, 9, 30)])
    sheet.merge_cells("A3:A4")
    path = tmp_path / "merged.xlsx"
    workbook.save(path)

    lines = load_document(path)[0].page_content.split("\n")

    assert lines[2] == "2024年分行授信表"
    assert lines[3] == "地区: 江苏; 分行: 盐城分行; 日期: 2024-03-31"
    assert lines[4] == "地区: 江苏; 分行: 南京分行; 日期: 2024-03-31 09:30:00"


def test_xlsx_garbage(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file at all")

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("en") == (
        "Could not read broken.xlsx: not a valid .xlsx file (save an old .xls file as .xlsx first). "
        "Check that the file is not damaged and upload it again."
    )


# --- PPTX ---------------------------------------------------------------------------------------


def test_pptx_slides_as_pages(tmp_path):
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "监督期限"
    first.placeholders[1].text = "当事人应当在六个月内提出。"
    first.notes_slide.notes_text_frame.text = "讲解时强调六个月是不变期间。"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "授信情况"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (row, column), value in zip([(0, 0), (0, 1), (1, 0), (1, 1)], ["银行", "授信总额", "工商银行", "330,435.30"]):
        table.cell(row, column).text = value
    path = tmp_path / "slides.pptx"
    presentation.save(path)

    documents = load_document(path)

    assert [document.metadata["page"] for document in documents] == [1, 2]
    assert documents[0].page_content == "# 监督期限\n\n当事人应当在六个月内提出。\n\n讲解时强调六个月是不变期间。"
    assert documents[1].page_content == "# 授信情况\n\n| 银行 | 授信总额 |\n| --- | --- |\n| 工商银行 | 330,435.30 |"
    assert documents[1].metadata["ocr"] is False


def test_pptx_picture_ocr():
    document = load_document(corpus_file(OCR_PPTX))[0]

    assert document.metadata["ocr"] is True
    assert "我是文字" in document.page_content
    assert "| 我是表格1 | 我是表格5 |" in document.page_content
    assert "横向文本框" in document.page_content


def test_pptx_garbage(tmp_path):
    path = tmp_path / "broken.pptx"
    path.write_bytes(b"PK\x03\x04 truncated")

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("zh").startswith("无法读取文件 broken.pptx：不是有效的 .pptx 文件（旧版 .ppt 请先另存为 .pptx）。")


# --- JSON ---------------------------------------------------------------------------------------


def test_json_transcript():
    text = load_document(corpus_file(WHISPER_JSON))[0].page_content

    assert text.startswith("text: B站的小伙伴们好我是蘑菇书")
    assert "segments[0].text: B站的小伙伴们好" in text.split("\n")
    assert "tokens" not in text
    assert "language: zh" in text.split("\n")


def test_json_records(tmp_path):
    path = tmp_path / "banks.json"
    records = [{"银行": "工商银行", "授信总额": 330435.3, "已使用": True}, {"银行": "渤海银行", "剩余额度": None}]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")

    text = load_document(path)[0].page_content

    assert text == "银行: 工商银行; 授信总额: 330435.3; 已使用: true\n银行: 渤海银行"


def test_json_invalid(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"text": "未结束', encoding="utf-8")

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("en").startswith("Could not read broken.json: invalid JSON (Unterminated string")


# --- SRT and WebVTT -----------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [SRT, VTT], ids=["srt", "vtt"])
def test_subtitles_text_without_timestamps(relative):
    document = load_document(corpus_file(relative))[0]

    assert document.page_content.startswith("B站的小伙伴们好\n我是蘑菇书一语二语二强化学习教程的作者之一王奇\n")
    assert "-->" not in document.page_content
    assert "00:00" not in document.page_content
    assert document.metadata["start"] == "00:00:01.000"
    assert document.metadata["end"] == "00:00:03.000"


@pytest.mark.parametrize("relative", [SRT, VTT], ids=["srt", "vtt"])
def test_subtitles_chunk_first_cue(relative):
    chunks = split_documents(load_document(corpus_file(relative)), chunk_size=200, chunk_overlap=40)
    chunk = next(chunk for chunk in chunks if chunk.page_content.startswith("他的引用方向为\n"))

    # Cue 12 of the file: "00:00:38,000 --> 00:00:39,000" / "他的引用方向为".
    assert chunk.metadata["start"] == "00:00:38.000"
    assert chunk.metadata["end"] == "00:00:39.000"
    assert "cues" not in chunk.metadata
    assert all(isinstance(chunk.metadata["start"], str) for chunk in chunks)


def test_vtt_blocks_and_tags(tmp_path):
    path = tmp_path / "talk.vtt"
    path.write_text(
        "WEBVTT - 讲座\n\nNOTE 这是注释，不是字幕\n\nSTYLE\n::cue { color: yellow }\n\n"
        "intro\n00:01.500 --> 00:04.000 align:start\n<v 王奇>大家好，</v>\n<i>欢迎收看</i>\n\n"
        "1:02:03.250 --> 1:02:05.000\n下一句\n",
        encoding="utf-8",
    )

    document = load_document(path)[0]

    assert document.page_content == "大家好， 欢迎收看\n下一句"
    assert document.metadata["cues"] == [("00:00:01.500", "00:00:04.000"), ("01:02:03.250", "01:02:05.000")]


def test_srt_without_cues(tmp_path):
    path = tmp_path / "notes.srt"
    path.write_text("这只是普通文字，没有时间轴。\n", encoding="utf-8")

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("zh").startswith("无法读取文件 notes.srt：没有找到带时间轴（如 00:00:01,000 --> 00:00:03,000）的字幕。")


# --- EPUB ---------------------------------------------------------------------------------------


def make_epub(path: Path, chapters: dict[str, str], spine: list[str], encrypted: list[str] = ()) -> Path:
    container = (
        '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    items = "".join(f'<item id="{name}" href="text/{name}.xhtml" media-type="application/xhtml+xml"/>' for name in chapters)
    refs = "".join(f'<itemref idref="{name}"/>' for name in spine)
    package = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        f"<metadata/><manifest>{items}</manifest><spine>{refs}</spine></package>"
    )
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
        book.writestr("META-INF/container.xml", container)
        book.writestr("OEBPS/content.opf", package)
        for name, body in chapters.items():
            book.writestr(f"OEBPS/text/{name}.xhtml", f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{body}</body></html>')
        if encrypted:
            references = "".join(
                f'<enc:EncryptedData><enc:CipherData><enc:CipherReference URI="OEBPS/text/{name}.xhtml"/>'
                "</enc:CipherData></enc:EncryptedData>" for name in encrypted
            )
            book.writestr(
                "META-INF/encryption.xml",
                '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                f'xmlns:enc="http://www.w3.org/2001/04/xmlenc#">{references}</encryption>',
            )
    return path


def test_epub_spine_order(tmp_path):
    chapters = {
        "appendix": "<h1>附录</h1><table><tr><th>章</th><th>条文数</th></tr><tr><td>总则</td><td>4</td></tr></table>",
        "intro": "<h1>第一章 总则</h1><p>第一条 为了规范管理，制定本办法。</p>",
    }
    path = make_epub(tmp_path / "book.epub", chapters, spine=["intro", "appendix"])

    documents = load_document(path)

    assert [document.page_content for document in documents] == [
        "# 第一章 总则\n\n第一条 为了规范管理，制定本办法。",
        "# 附录\n\n| 章 | 条文数 |\n| --- | --- |\n| 总则 | 4 |",
    ]
    assert documents[0].metadata["file_type"] == "epub"


def test_epub_drm(tmp_path):
    path = make_epub(tmp_path / "drm.epub", {"intro": "<p>密文</p>"}, spine=["intro"], encrypted=["intro"])

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("en") == (
        "drm.epub is encrypted (it needs a password or is DRM-protected), so it cannot be read. Remove the "
        "password or protection and upload it again."
    )


# --- Hostile input ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUPPORTED_EXTENSIONS)
def test_zero_bytes(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")

    with pytest.raises(EmptyDocumentError) as info:
        load_document(path)

    assert info.value.message("zh") == f"文件 empty{suffix} 是空文件（0 字节），可能在上传或复制时中断了。请检查原文件后重新上传。"
    assert info.value.message("en") == (
        f"empty{suffix} is empty (0 bytes); the upload or copy may have been interrupted. Check the original "
        "file and upload it again."
    )


def test_pdf_encrypted(tmp_path):
    path = tmp_path / "secret.pdf"
    path.write_bytes(make_pdf([["机密文件"]], encrypt=True))

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("zh") == "文件 secret.pdf 已加密（需要密码或受 DRM 保护），无法读取。请去除密码或保护后重新上传。"


def test_pdf_truncated_reason(tmp_path):
    path = tmp_path / "cut.pdf"
    path.write_bytes(corpus_file(TEXT_PDF).read_bytes()[:4000])

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.message("en").startswith("Could not read cut.pdf: not a valid PDF; it may be damaged, truncated")


def test_docx_encrypted(tmp_path):
    path = tmp_path / "secret.docx"
    # The start of an OLE compound file, as Office writes a password-protected document.
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptedPackage".encode("utf-16-le"))

    with pytest.raises(DocumentLoadError) as info:
        load_document(path)

    assert info.value.key == "error.file_encrypted"


def test_docx_image_only_blank(tmp_path):
    path = docx_with_picture(tmp_path / "photo.docx", png_bytes("lightgray"))

    with pytest.raises(EmptyDocumentError) as info:
        load_document(path)

    assert info.value.message("zh") == "文件 photo.docx 只包含图片，文字识别（OCR）也没有从中识别出文字。请上传带文字的版本或更清晰的扫描件。"
    assert info.value.message("en") == (
        "photo.docx contains only images, and OCR recognised no text in them. Upload a version with text or a "
        "clearer scan."
    )


def test_docx_image_only_read(tmp_path):
    path = docx_with_picture(tmp_path / "scan.docx", corpus_docx_picture())
    calls = []

    document = load_document(path, progress=lambda *args: calls.append(args))[0]

    assert "横向文本框" in document.page_content
    assert document.metadata["ocr"] is True
    assert calls == [("ocr", 0, 1), ("ocr", 1, 1)]


def test_docx_picture_inline():
    text = load_document(corpus_file(OCR_DOCX))[0].page_content

    assert text.index("我是文字") < text.index("横向文本框")


# --- Table splitting ----------------------------------------------------------------------------


def table_markdown(rows: int) -> str:
    lines = ["| 序号 | 金融机构名称 | 授信总额 |", "| --- | :--- | ---: |"]
    lines += [f"| {number} | 银行{number}分行 | {number * 1000}.00 |" for number in range(1, rows + 1)]
    return "\n".join(lines)


def md_chunks(text: str, chunk_size: int = 200, chunk_overlap: int = 40) -> list[Document]:
    document = Document(page_content=text, metadata={"source": "a.md", "file_type": "md"})
    return split_documents([document], chunk_size=chunk_size, chunk_overlap=chunk_overlap)


def test_table_header_every_chunk():
    chunks = md_chunks("# 授信\n\n前言。\n\n" + table_markdown(40) + "\n\n结尾。\n")
    table_chunks = [chunk.page_content for chunk in chunks if "银行" in chunk.page_content]

    assert len(table_chunks) > 3
    for text in table_chunks:
        assert "| 序号 | 金融机构名称 | 授信总额 |\n| --- | :--- | ---: |\n" in text, text
    assert all(len(chunk.page_content) <= 200 for chunk in chunks)


def test_table_rows_not_cut():
    chunks = md_chunks(table_markdown(40))
    rows = [line for chunk in chunks for line in chunk.page_content.split("\n") if "分行" in line]

    assert rows == [f"| {number} | 银行{number}分行 | {number * 1000}.00 |" for number in range(1, 41)]


def test_table_long_row_pieces():
    row = "| 1 | " + "很长的单元格内容，" * 40 + " |"
    chunks = md_chunks("| 序号 | 说明 |\n| --- | --- |\n" + row + "\n", chunk_size=120, chunk_overlap=0)

    assert len(chunks) > 3
    assert all(chunk.page_content.startswith("| 序号 | 说明 |\n| --- | --- |\n") for chunk in chunks)
    assert all(len(chunk.page_content) <= 120 for chunk in chunks)


def test_table_in_code_fence_ignored():
    text = "```\n| a | b |\n| --- | --- |\n" + "| 1 | 2 |\n" * 30 + "```\n"

    chunks = md_chunks(text, chunk_size=100, chunk_overlap=0)

    assert sum(chunk.page_content.count("| --- | --- |") for chunk in chunks) == 1


def test_table_no_overlap_into_prose():
    text = table_markdown(12) + "\n\n" + "这是表格之后的正文，说明授信情况。" * 8

    chunks = md_chunks(text, chunk_size=150, chunk_overlap=40)
    prose = [chunk.page_content for chunk in chunks if "这是表格之后" in chunk.page_content]

    assert prose
    assert "|" not in prose[-1]


def test_table_corpus_op_md():
    # The widest header in op.md is about 220 characters with its delimiter line, so it is repeated at 500.
    chunks = split_documents(load_document(corpus_file(OP_MD)), chunk_size=500, chunk_overlap=50)

    for chunk in chunks:
        lines = chunk.page_content.split("\n")
        if any(line.startswith("|") for line in lines) and "```" not in chunk.page_content:
            assert any(line.startswith(("| ---", "|---", "| :--")) for line in lines), chunk.page_content
        assert len(chunk.page_content) <= 500


def test_table_docx_rows_chunked():
    chunks = split_documents(load_document(corpus_file(f"extra/derived/{RULES}.docx")), chunk_size=200, chunk_overlap=40)
    table_chunks = [chunk.page_content for chunk in chunks if "| 第" in chunk.page_content]

    assert len(table_chunks) == 2
    assert all(text.startswith("| 章 | 条文数 | 起始条 | 结束条 |\n| --- | --- | --- | --- |\n") for text in table_chunks)


def test_table_html(tmp_path):
    rows = "".join(f"<tr><td>{number}</td><td>银行{number}分行</td></tr>" for number in range(1, 30))
    path = tmp_path / "banks.html"
    path.write_text(f"<html><body><table><tr><th>序号</th><th>名称</th></tr>{rows}</table></body></html>", encoding="utf-8")

    chunks = split_documents(load_document(path), chunk_size=120, chunk_overlap=20)

    assert len(chunks) > 2
    assert all(chunk.page_content.startswith("| 序号 | 名称 |\n| --- | --- |\n") for chunk in chunks)


def test_table_nested_html(tmp_path):
    path = tmp_path / "nested.html"
    path.write_text(
        "<table><tr><th>项目</th><th>明细</th></tr><tr><td>授信</td><td><table><tr><td>工商银行</td>"
        "<td>330,435.30</td></tr></table></td></tr></table>",
        encoding="utf-8",
    )

    text = load_document(path)[0].page_content

    assert text == "| 项目 | 明细 |\n| --- | --- |\n| 授信 | 工商银行 330,435.30 |"


# --- Quality: spacing, wrapping, garbling -------------------------------------------------------


def test_pdf_spaced_cjk_repaired(tmp_path):
    path = tmp_path / "spaced.pdf"
    path.write_bytes(make_pdf([[" ".join(SENTENCE)] * 3]))

    document = load_document(path)[0]

    assert document.page_content.replace("\n", "") == SENTENCE * 3
    assert document.metadata["quality"] == 1.0
    assert document.metadata["ocr"] is False


def test_txt_spaced_cjk_repaired(tmp_path):
    path = tmp_path / "spaced.txt"
    path.write_text(" ".join("大模型是一种语言模型") + " 基于 Transformer 架构。\n", encoding="utf-8")

    text = load_document(path)[0].page_content

    assert text == "大模型是一种语言模型基于 Transformer 架构。"


def test_intended_spacing_kept():
    text = "第一章 总 则\n第二章 受 理\n第三章 审 查\n第四条 人民检察院对行政诉讼实行监督。"

    assert has_cjk_spacing_artifacts(text) is False
    assert repair_cjk_spacing(text) == text


def test_pdf_wrapped_lines_joined():
    documents = load_document(corpus_file(TEXT_PDF))
    lines = [line for document in documents for line in document.page_content.split("\n")]

    assert "（一）人民法院对生效判决、裁定、调解书驳回再审申请或者逾期未对再审申请作出裁定的；" in lines
    assert not any(line.startswith(("；", "，", "。")) for line in lines)
    assert "— 1 —" not in lines


def test_pdf_chunks_end_on_sentences():
    chunks = split_documents(load_document(corpus_file(TEXT_PDF)), chunk_size=300, chunk_overlap=0)

    for chunk in chunks:
        last_line = chunk.page_content.split("\n")[-1]
        # A chapter heading at the bottom of a page ends that page's last chunk.
        assert last_line[-1] in "。；：" or re.match(r"^(?:#+ )?第.+[章节] ", last_line), last_line


def test_wrapped_table_rows_kept():
    text = "\n".join(["截至 2023 年 3 月末，发行人各类授信额度总额达 372.53 亿元，其中已使用"] * 3 + [
        "1 工商银行 330,435.30 234,850.00 95,585.30",
        "2 徽商银行南京中山北路支行 330,435.30 256,735.30 73,700.00",
        "3 兴业银行盐城分行 302,600.00 110,600.00 192,000.00",
    ])

    lines = join_wrapped_lines(text).split("\n")

    assert lines[-3:] == text.split("\n")[-3:]


def test_wrapped_items_kept():
    full = "当事人以下列理由申请监督，应当在知道或者应当知道之日起提出，并附有关材料"
    text = "\n".join([full, "（一）有新的证据，足以推翻再审判决、裁定的", full, "第七条 当事人向人民检察院申请监督", full, "后续"])

    assert join_wrapped_lines(text).split("\n") == [
        full, "（一）有新的证据，足以推翻再审判决、裁定的", full, "第七条 当事人向人民检察院申请监督", full + "后续",
    ]


def test_mojibake_txt_low_quality(tmp_path):
    path = tmp_path / "mojibake.txt"
    garbled = "当事人申请监督的期限是六个月。".encode("utf-8").decode("cp1252", errors="replace")
    path.write_text(garbled, encoding="utf-8")

    document = load_document(path)[0]

    assert document.metadata["quality"] < 0.8
    assert document.metadata["parse_quality"] == document.metadata["quality"]


@pytest.mark.parametrize(
    "garbled",
    [
        "当事人申请监督的期限是六个月。".encode("utf-8").decode("latin-1"),
        "当事人申请监督的期限是六个月。".encode("utf-8").decode("gbk", errors="replace"),
        "当事人申请监督的期限是六个月。".encode("gbk").decode("latin-1"),
        "(cid:1234)(cid:567)(cid:89)(cid:1011) 的 (cid:1213)",
        "\ue000\ue001\ue002\ue003 第一条",
    ],
    ids=["utf8-as-latin1", "utf8-as-gbk", "gbk-as-latin1", "cid-names", "private-use"],
)
def test_garbled_detected(garbled):
    assert garbled_ratio(garbled) >= 0.5


@pytest.mark.parametrize(
    "clean",
    [
        "Le café était très agréable à Noël, où l'été dure. Ça coûte 3 €.",
        "Größe und Übermäßigkeit – „Anführungszeichen“ … 100 %",
        "標點符號與其排版處理，中文文字布局需求。",
        "第六条 当事人应当在六个月内提出；对人民法院逾期未作出裁定的，依照本规则办理。",
        "TeX 大括号的部件 \uf8f1\uf8f2\uf8f3 来自 Symbol 字体",
    ],
    ids=["french", "german", "traditional", "simplified", "symbol-font"],
)
def test_clean_text_not_garbled(clean):
    assert garbled_ratio(clean) == 0.0
    assert text_quality(clean) == 1.0


def test_pdf_garbled_page_tries_ocr(tmp_path):
    path = tmp_path / "garbled.pdf"
    path.write_bytes(make_pdf([["".join(chr(0xE000 + index) for index in range(40))], [SENTENCE]]))
    calls = []

    documents = load_document(path, progress=lambda *args: calls.append(args))

    assert calls == [("ocr", 0, 1), ("ocr", 1, 1)]
    assert [document.metadata["quality"] for document in documents] == [0.0, 1.0]
    assert documents[0].metadata["parse_quality"] == 0.5


def test_parse_quality_mean():
    documents = [
        Document(page_content="正常文字。", metadata={"quality": 1.0}),
        Document(page_content="乱码", metadata={"quality": 0.5}),
        Document(page_content="(cid:12)(cid:13)"),
    ]

    assert parse_quality(documents) == 0.5
    assert parse_quality([]) == 0.0
