"""HTML and EPUB loaders: visible text with headings as Markdown and tables as Markdown pipe tables."""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote

from llm_universe.documents.formats.common import LoadContext, Part, collapse_spaces, os_error
from llm_universe.documents.formats.tables import render_markdown_table
from llm_universe.errors import DocumentLoadError, EncodingDetectionError

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

# Elements whose content a reader never sees as page text.
_HIDDEN_TAGS = ("script", "style", "noscript", "template", "head")
_PARAGRAPH_TAGS = (
    "p", "div", "section", "article", "header", "footer", "nav", "aside", "main", "blockquote",
    "figure", "figcaption", "form", "address", "details", "summary", "ul", "ol", "dl", "hr",
)
_LINE_TAGS = ("li", "dt", "dd", "caption")
_HEADING = re.compile(r"h([1-6])")
_SPACES = re.compile(r"\s+")

_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
_XHTML_TYPES = ("application/xhtml+xml", "text/html")


def load_html(path: Path, context: LoadContext) -> list[Part]:
    """Load an HTML file as one Part; a declared <meta charset> wins, then UTF-8, then GB18030."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise os_error(context.name, exc) from exc
    return [Part(html_to_text(_decode_html(data, context.name)))]


def load_epub(path: Path, context: LoadContext) -> list[Part]:
    """Load an EPUB book as one Part per spine document (chapter file), in reading order.

    Raises DocumentLoadError("error.file_encrypted") for a book whose chapters are DRM-encrypted,
    and DocumentLoadError with reason "reason.invalid_epub" for a file that is not an EPUB.
    """
    try:
        with zipfile.ZipFile(path) as book:
            chapters = _epub_chapters(book, context.name)
            return [Part(html_to_text(_decode_html(book.read(chapter), context.name))) for chapter in chapters]
    except zipfile.BadZipFile as exc:
        raise DocumentLoadError(name=context.name, reason_key="reason.invalid_epub", detail=str(exc)) from exc


def html_to_text(markup: str) -> str:
    """Convert HTML markup to text: headings become "#" lines, tables pipe tables, <pre> code fences."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = collapse_spaces(soup.title.get_text()) if soup.title else ""
    has_h1 = soup.find("h1") is not None
    for tag in soup.find_all(_HIDDEN_TAGS):
        tag.decompose()
    _collapse_whitespace(soup)

    _replace_tables(soup)
    _replace_headings(soup)
    _mark_blocks(soup)

    text = _tidy_lines(soup.get_text())
    if title and not has_h1:
        text = f"# {title}\n\n{text}"
    return text


def _decode_html(data: bytes, name: str) -> str:
    from bs4 import UnicodeDammit

    dammit = UnicodeDammit(data, user_encodings=["utf-8", "gb18030"], is_html=True)
    if dammit.unicode_markup is None:
        raise EncodingDetectionError(name=name)
    return dammit.unicode_markup


def _epub_chapters(book: zipfile.ZipFile, name: str) -> list[str]:
    """Return the archive paths of the spine documents, read from container.xml and the OPF package file."""
    from bs4 import BeautifulSoup

    try:
        container = BeautifulSoup(book.read(_CONTAINER), "xml")
        rootfile = container.find("rootfile")
        package_path = unquote(rootfile["full-path"])
        package = BeautifulSoup(book.read(package_path), "xml")
    except (KeyError, TypeError) as exc:
        raise DocumentLoadError(name=name, reason_key="reason.invalid_epub", detail=str(exc)) from exc

    base = posixpath.dirname(package_path)
    manifest = {
        item.get("id"): posixpath.normpath(posixpath.join(base, unquote(item.get("href", ""))))
        for item in package.find_all("item")
        if item.get("media-type") in _XHTML_TYPES
    }
    chapters = [manifest[ref["idref"]] for ref in package.find_all("itemref") if ref.get("idref") in manifest]
    names = set(book.namelist())
    chapters = [chapter for chapter in chapters if chapter in names]
    if _ENCRYPTION in names and _encrypted_paths(book) & set(chapters):
        raise DocumentLoadError("error.file_encrypted", name=name)
    return chapters


def _encrypted_paths(book: zipfile.ZipFile) -> set[str]:
    """Return the archive paths listed in META-INF/encryption.xml (fonts obfuscated by IDPF rules included)."""
    from bs4 import BeautifulSoup

    encryption = BeautifulSoup(book.read(_ENCRYPTION), "xml")
    return {
        str(PurePosixPath(unquote(reference["URI"])))
        for reference in encryption.find_all("CipherReference")
        if reference.get("URI")
    }


def _collapse_whitespace(soup: BeautifulSoup) -> None:
    """Collapse whitespace runs to one space, as a browser does, except inside <pre> and <textarea>."""
    from bs4.element import PreformattedString

    for string in soup.find_all(string=True):
        # get_text() skips comments and the doctype (PreformattedStrings), but it would include them
        # once replace_with had turned them into plain strings.
        if isinstance(string, PreformattedString) or string.find_parent(("pre", "textarea")):
            continue
        string.replace_with(_SPACES.sub(" ", str(string)))


def _replace_tables(soup: BeautifulSoup) -> None:
    """Replace each outermost table with a pipe table; a nested table stays as plain text in its cell."""
    for table in soup.find_all("table"):
        if table.find_parent("table") is not None:
            continue
        rows = [
            [collapse_spaces(cell.get_text(" ")) for cell in row.find_all(("td", "th"), recursive=False)]
            for row in table.find_all("tr")
            if row.find_parent("table") is table
        ]
        table.replace_with(f"\n\n{render_markdown_table(rows)}\n\n")


def _replace_headings(soup: BeautifulSoup) -> None:
    for heading in soup.find_all(_HEADING):
        level = int(heading.name[1])
        text = collapse_spaces(heading.get_text(" "))
        heading.replace_with(f"\n\n{'#' * level} {text}\n\n" if text else "")


def _mark_blocks(soup: BeautifulSoup) -> None:
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all("pre"):
        _wrap_tag(tag, "\n\n```\n", "\n```\n\n")
    for tag in soup.find_all(_PARAGRAPH_TAGS):
        _wrap_tag(tag, "\n\n", "\n\n")
    for tag in soup.find_all(_LINE_TAGS):
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
