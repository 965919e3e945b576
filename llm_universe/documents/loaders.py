"""Load files into LangChain `Document`s, with one loader per file type.

Every loader returns text with `\\n` line endings and without C0 control characters. Markdown headings
(`# ...`) mark the document structure: DOCX heading styles and HTML `<h1>`-`<h6>` are turned into them,
so the splitter can keep them as metadata. Tables become one line per row.

Every Document carries the metadata keys `source` (the file name, never a path), `file_type` (the
extension without the dot) and `page` (1-based for PDFs, None otherwise).
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import time
import zipfile
from collections.abc import Callable, Iterable
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from llm_universe.errors import (
    DocumentLoadError,
    EmptyDocumentError,
    EncodingDetectionError,
    LLMUniverseError,
    UnsupportedFileType,
)

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

logger = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".pdf", ".md", ".markdown", ".txt", ".docx", ".html", ".htm", ".csv")

# Tried in this order, and the first that decodes without an error wins. utf-8-sig also strips a UTF-8
# BOM, and GB18030 is a superset of GBK and GB2312. Latin-1 is left out on purpose because it decodes
# any byte string, so it would hide GBK text as mojibake.
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")

# Windows Notepad saves "Unicode" text as UTF-16 with a BOM, and the BOM identifies it reliably.
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BREAK_CHARS = re.compile(r"\r\n?|[\x0b\x0c]")
_SPACES = re.compile(r"\s+")

# (text, page) pairs produced by a loader. The page is 1-based for PDFs, None for other types.
_Part = tuple[str, int | None]


def load_document(path: str | Path, display_name: str | None = None) -> list[Document]:
    """Load one file into Documents, choosing the loader by the file extension.

    `display_name`, for example the original name of an uploaded file, becomes the `source` metadata
    after reduction to its base name. Without it, `source` is the file name of `path`. A PDF gives one
    Document per page that has text, and every other type gives one Document.

    Raises UnsupportedFileType for an extension outside SUPPORTED_EXTENSIONS, EncodingDetectionError
    for text that decodes as neither UTF-8 nor GB18030, EmptyDocumentError when the file has no text,
    and DocumentLoadError when the file is missing, unreadable or damaged.
    """
    path = Path(path)
    name = _base_name(display_name) if display_name else path.name
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise UnsupportedFileType(name=name, suffix=suffix, supported=", ".join(SUPPORTED_EXTENSIONS))

    # Checked here because python-docx reports a missing file as an invalid package.
    if not path.is_file():
        raise DocumentLoadError(name=name, reason_key="reason.folder" if path.is_dir() else "reason.not_found")

    started = time.perf_counter()
    try:
        parts = loader(path, name)
    except OSError as exc:
        raise DocumentLoadError(name=name, reason_key="reason.os_error", detail=exc.strerror or type(exc).__name__) from exc
    documents = _to_documents(parts, name, suffix.lstrip("."))
    if not documents:
        raise EmptyDocumentError(name=name)

    characters = sum(len(document.page_content) for document in documents)
    logger.info(
        "Loaded %s: %d documents, %d characters in %.2f s",
        name, len(documents), characters, time.perf_counter() - started,
    )
    return documents


def load_documents(paths: Iterable[str | Path]) -> tuple[list[Document], list[tuple[Path, LLMUniverseError]]]:
    """Load several files, recording each file that fails and going on with the rest.

    Returns the Documents of every file that loaded, and a (path, error) pair for every file that
    did not.
    """
    paths = [Path(path) for path in paths]
    documents: list[Document] = []
    failures: list[tuple[Path, LLMUniverseError]] = []
    for path in paths:
        try:
            documents.extend(load_document(path))
        except LLMUniverseError as exc:
            logger.warning("Skipped %s: %s", path.name, exc)
            failures.append((path, exc))

    if failures:
        logger.warning("%d of %d files failed to load", len(failures), len(paths))
    return documents, failures


def read_text_file(path: str | Path) -> tuple[str, str]:
    """Read a text file, detecting its encoding, and return (text, encoding name).

    Tries a UTF-16 BOM first, then TEXT_ENCODINGS in order: "utf-8" is returned for UTF-8 without a
    BOM, "utf-8-sig" with one (the BOM is not part of the text). Line endings become `\\n`.

    Raises EncodingDetectionError when no encoding decodes the bytes cleanly, and DocumentLoadError
    when the file cannot be read.
    """
    path = Path(path)
    return _read_text(path, path.name)


def _base_name(name: str) -> str:
    return re.split(r"[\\/]", name)[-1] or name


def _to_documents(parts: list[_Part], name: str, file_type: str) -> list[Document]:
    documents = []
    for text, page in parts:
        text = _normalize_text(text).strip("\n")
        if text.strip():
            metadata = {"source": name, "file_type": file_type, "page": page}
            documents.append(Document(page_content=text, metadata=metadata))
    return documents


def _normalize_text(text: str) -> str:
    """Convert CR LF, CR, vertical tab and form feed to LF, and drop other C0 control characters."""
    return _CONTROL_CHARS.sub("", _BREAK_CHARS.sub("\n", text))


def _read_text(path: Path, name: str) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(name=name, reason_key="reason.os_error", detail=exc.strerror or type(exc).__name__) from exc

    text, encoding = _decode(data, name)
    return _normalize_text(text), encoding


def _decode(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith(_UTF16_BOMS):
        return _decode_utf16(data, name), "utf-16"

    for encoding in TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # A NUL character marks a binary file or UTF-16 text without a BOM, not text in this encoding.
        if "\x00" in text:
            break
        if encoding == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8"
        return text, encoding
    raise EncodingDetectionError(name=name)


def _decode_utf16(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-16")
    except UnicodeDecodeError as exc:
        raise EncodingDetectionError(name=name) from exc


def _load_text(path: Path, name: str) -> list[_Part]:
    text, _ = _read_text(path, name)
    return [(text, None)]


def _load_pdf(path: Path, name: str) -> list[_Part]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise DocumentLoadError(name=name, reason_key="reason.invalid_pdf", detail=str(exc)) from exc
    try:
        return [(_pdf_page_text(pdf, index, name), index + 1) for index in range(len(pdf))]
    finally:
        pdf.close()


def _pdf_page_text(pdf, index: int, name: str) -> str:
    """Return the text layer of one page, or "" when PDFium cannot read that page."""
    import pypdfium2 as pdfium

    try:
        page = pdf[index]
        textpage = page.get_textpage()
    except pdfium.PdfiumError as exc:
        logger.warning("Skipped page %d of %s: %s", index + 1, name, exc)
        return ""
    try:
        return textpage.get_text_range()
    finally:
        textpage.close()
        page.close()


def _load_docx(path: Path, name: str) -> list[_Part]:
    import docx
    from docx.opc.exceptions import OpcError
    from lxml.etree import XMLSyntaxError

    try:
        document = docx.Document(str(path))
        blocks = [_docx_block_text(item) for item in document.iter_inner_content()]
    except (OpcError, zipfile.BadZipFile, KeyError) as exc:
        raise DocumentLoadError(name=name, reason_key="reason.invalid_docx") from exc
    except XMLSyntaxError as exc:
        raise DocumentLoadError(name=name, reason_key="reason.damaged_docx", detail=str(exc)) from exc
    return [("\n\n".join(block for block in blocks if block), None)]


def _docx_block_text(item) -> str:
    from docx.table import Table

    if isinstance(item, Table):
        return _render_table(_docx_table_rows(item))
    return _docx_paragraph_text(item)


def _docx_paragraph_text(paragraph) -> str:
    text = paragraph.text.strip()
    if not text:
        return ""

    level = _docx_heading_level(paragraph.style.name if paragraph.style is not None else "")
    if level:
        return "#" * level + " " + _collapse_spaces(text)
    return text


def _docx_heading_level(style_name: str) -> int:
    """Return the Markdown heading level for a paragraph style, or 0 for body text.

    Word's built-in styles are named "Heading 1" to "Heading 9", and some Chinese-language documents
    name them "标题 1". "Title" becomes level 1, and levels past 6 become 6, the deepest Markdown level.
    """
    if style_name.strip().lower() == "title":
        return 1
    match = re.fullmatch(r"\s*(?:heading|标题)\s*([1-9])\s*", style_name, flags=re.IGNORECASE)
    return min(int(match.group(1)), 6) if match else 0


def _docx_table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, previous = [], None
        for cell in row.cells:
            # python-docx returns a merged cell once per grid column it spans. Leaving the repeats
            # empty keeps the columns aligned with the header without repeating the text.
            cells.append("" if cell._tc is previous else _collapse_spaces(cell.text))
            previous = cell._tc
        rows.append(cells)
    return rows


def _load_csv(path: Path, name: str) -> list[_Part]:
    text, _ = _read_text(path, name)
    try:
        rows = [[_collapse_spaces(cell) for cell in row] for row in csv.reader(io.StringIO(text), _csv_dialect(text))]
    except csv.Error as exc:
        raise DocumentLoadError(name=name, reason_key="reason.invalid_csv", detail=str(exc)) from exc

    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    header, records = rows[0], rows[1:]
    lines = [_render_record(header, record) for record in records] or ["; ".join(header)]
    return [("\n".join(lines), None)]


def _csv_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Detect the delimiter among comma, semicolon, tab and pipe, defaulting to Excel's comma format."""
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _render_table(rows: list[list[str]]) -> str:
    """Render table rows as text, one line per row.

    When the first row looks like a header (every cell filled and unique), each later row becomes
    "header: value; header: value", so a row keeps its column names after splitting. Otherwise the
    cells of each row are joined with " | ".
    """
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""

    header, records = rows[0], rows[1:]
    if records and all(header) and len(set(header)) == len(header):
        return "\n".join(_render_record(header, record) for record in records)
    return "\n".join(" | ".join(cell for cell in row if cell) for row in rows)


def _render_record(header: list[str], record: list[str]) -> str:
    fields = []
    for column, value in zip_longest(header, record, fillvalue=""):
        if value:
            fields.append(f"{column}: {value}" if column else value)
    return "; ".join(fields)


def _collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _load_html(path: Path, name: str) -> list[_Part]:
    from bs4 import BeautifulSoup, UnicodeDammit

    # A declared <meta charset> wins, then UTF-8, then GB18030.
    dammit = UnicodeDammit(path.read_bytes(), user_encodings=["utf-8", "gb18030"], is_html=True)
    if dammit.unicode_markup is None:
        raise EncodingDetectionError(name=name)

    soup = BeautifulSoup(dammit.unicode_markup, "lxml")
    return [(_html_to_text(soup), None)]


# Elements whose content a reader never sees as page text.
_HTML_HIDDEN_TAGS = ("script", "style", "noscript", "template", "head")
_HTML_PARAGRAPH_TAGS = (
    "p", "div", "section", "article", "header", "footer", "nav", "aside", "main", "blockquote",
    "figure", "figcaption", "form", "address", "details", "summary", "ul", "ol", "dl", "hr",
)
_HTML_LINE_TAGS = ("li", "dt", "dd", "caption")
_HTML_HEADING = re.compile(r"h([1-6])")


def _html_to_text(soup: BeautifulSoup) -> str:
    title = _collapse_spaces(soup.title.get_text()) if soup.title else ""
    has_h1 = soup.find("h1") is not None
    for tag in soup.find_all(_HTML_HIDDEN_TAGS):
        tag.decompose()
    _collapse_html_whitespace(soup)

    _replace_html_tables(soup)
    _replace_html_headings(soup)
    _mark_html_blocks(soup)

    text = _tidy_lines(soup.get_text())
    if title and not has_h1:
        text = f"# {title}\n\n{text}"
    return text


def _collapse_html_whitespace(soup: BeautifulSoup) -> None:
    """Collapse whitespace runs to one space, as a browser does, except inside <pre> and <textarea>."""
    from bs4.element import PreformattedString

    for string in soup.find_all(string=True):
        # get_text() skips comments and the doctype (PreformattedStrings), but it would include them
        # once replace_with had turned them into plain strings.
        if isinstance(string, PreformattedString) or string.find_parent(("pre", "textarea")):
            continue
        string.replace_with(_SPACES.sub(" ", str(string)))


def _replace_html_tables(soup: BeautifulSoup) -> None:
    # Replace innermost tables first, so an outer table reads a nested one as plain cell text.
    for table in reversed(soup.find_all("table")):
        rows = [
            [_collapse_spaces(cell.get_text(" ")) for cell in row.find_all(("td", "th"), recursive=False)]
            for row in table.find_all("tr")
        ]
        table.replace_with(f"\n\n{_render_table(rows)}\n\n")


def _replace_html_headings(soup: BeautifulSoup) -> None:
    for heading in soup.find_all(_HTML_HEADING):
        level = int(heading.name[1])
        text = _collapse_spaces(heading.get_text(" "))
        heading.replace_with(f"\n\n{'#' * level} {text}\n\n" if text else "")


def _mark_html_blocks(soup: BeautifulSoup) -> None:
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all("pre"):
        _wrap_tag(tag, "\n\n```\n", "\n```\n\n")
    for tag in soup.find_all(_HTML_PARAGRAPH_TAGS):
        _wrap_tag(tag, "\n\n", "\n\n")
    for tag in soup.find_all(_HTML_LINE_TAGS):
        _wrap_tag(tag, "\n", "\n")


def _wrap_tag(tag: Tag, before: str, after: str) -> None:
    tag.insert_before(before)
    tag.insert_after(after)


def _tidy_lines(text: str) -> str:
    """Strip each line outside code fences, and reduce runs of blank lines to one."""
    lines, in_code = [], False
    for line in text.split("\n"):
        if line.strip() == "```":
            in_code = not in_code
        lines.append(line.rstrip() if in_code else line.strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_LOADERS: dict[str, Callable[[Path, str], list[_Part]]] = {
    ".pdf": _load_pdf,
    ".md": _load_text,
    ".markdown": _load_text,
    ".txt": _load_text,
    ".docx": _load_docx,
    ".html": _load_html,
    ".htm": _load_html,
    ".csv": _load_csv,
}
