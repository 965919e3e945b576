"""Split Chinese and mixed Chinese-English text into chunks of at most `chunk_size` characters.

The text is first cut into sections at Markdown headings (outside fenced code blocks). Each section is
split on its own, so chunks never mix two sections and overlap stays inside one section. Inside a
section the splitter prefers, in this order: blank lines, line breaks, sentence ends, clause
punctuation, whitespace, and as a last resort a cut inside a word. No cut falls right before
sentence or clause punctuation (。！？；…，、： and their half-width forms) or a closing quote or
bracket, so these marks stay with their sentence. The only exception is a chunk-sized run made of
such marks alone. The heading lines of a section stay at the top of its first chunk, together with
the start of the first paragraph.

Markdown pipe tables (outside code blocks) are split by rows, never inside a row unless one row
alone is longer than a chunk, and every chunk that holds rows of a table starts with the table's
header and delimiter lines. No overlap is taken into or out of a table, because the repeated header
already gives each chunk its context.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from llm_universe.errors import InvalidChunkSetting

logger = logging.getLogger(__name__)

# Marks that may follow a sentence end and still belong to that sentence, as in 。」 or ！” or ?).
_CLOSING = re.escape("」』”’\"'）)］]】》〉〕｝}〗")
_CJK = "\u3400-\u9fff\uf900-\ufaff"

# Characters that never start a chunk or a piece: sentence and clause punctuation, and closing
# brackets or quotes. Chinese typesetting forbids them at the start of a line for the same reason.
_NO_LEADING = frozenset("。！？；…⋯．｡‼⁇⁈⁉，、：︰」』”’）］】》〉〕｝〗")
# Half-width marks are only kept with the text before them when they touch it, because "!" at the
# start of a word is usually something else (a Markdown image, a shell command).
_NO_LEADING_ATTACHED = frozenset("!?;,:")

_SENTENCE_END = (
    rf"(?:[。！？；…⋯．｡‼⁇⁈⁉]+[{_CLOSING}]*"
    rf"|[.!?;]+[{_CLOSING}]*(?=\s|$)"
    rf"|[!?;]+[{_CLOSING}]*(?=[{_CJK}]))"
)
_CLAUSE_END = r"(?:[，、：︰]+|[,:]+(?=\s))"

# Split points, strongest first: a piece ends where a match ends.
_SEPARATORS = (
    re.compile(r"\n[ \t\u3000]*\n\s*"),
    re.compile(r"\n\s*"),
    re.compile(_SENTENCE_END + r"\s*"),
    re.compile(_CLAUSE_END + r"\s*"),
    re.compile(r"\s+"),
)
# Overlap start points, best first: the start of a line, of a sentence, of a clause, of a word.
_OVERLAP_STARTS = _SEPARATORS[1:]

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")

_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")

# A table header is repeated in every chunk only while it leaves at least this share of chunk_size
# for rows. A longer header is split like any text, so only the first chunk has it.
_MIN_ROW_SHARE = 0.25

# File types whose text has no Markdown structure, so a line starting with "#" is plain text there
# (a shell comment in a PDF, a CSV row, a subtitle line).
_PLAIN_TEXT_TYPES = frozenset({"pdf", "csv", "json", "srt", "vtt"})


@dataclass
class _Section:
    """A run of text under one heading path."""

    headings: str
    heading_text: str  # heading lines at the top of the section and the blank lines after them
    body: str


@dataclass
class _Table:
    """A Markdown pipe table: the header and delimiter lines, and the row lines, each with its line break."""

    header: str
    rows: list[str]


@dataclass
class _Unit:
    """A piece of text that the merge step never cuts; `table` marks a block of table rows with its header."""

    text: str
    table: bool = False


class ChineseTextSplitter(TextSplitter):
    """Split text into chunks of at most `chunk_size` characters, keeping punctuation and headings in place.

    `chunk_size` and `chunk_overlap` are counted in characters (`len()`). Overlap is taken from the
    end of the previous chunk of the same section, starting after a punctuation mark or whitespace.
    """

    def __init__(self, chunk_size: int = 500, chunk_overlap: int = 50) -> None:
        """Check the sizes and create the splitter.

        Raises InvalidChunkSetting, a ValueError, unless chunk_size > 0 and
        0 <= chunk_overlap < chunk_size.
        """
        _validate_sizes(chunk_size, chunk_overlap)
        super().__init__(chunk_size=chunk_size, chunk_overlap=chunk_overlap)

    def split_text(self, text: str) -> list[str]:
        """Split `text`, read as Markdown, into chunks."""
        return [chunk for _, chunk in self._split(text, markdown=True)]

    def split_documents(self, documents: Iterable[Document]) -> list[Document]:
        """Split Documents into chunk Documents that keep the metadata of their input.

        Adds `headings`, the Markdown heading path of the chunk ("第一章 总则 > 第三条", or "" outside
        any heading), and `chunk_index`, counted from 0 per `source` across all its pages. Headings
        are not read from PDF, CSV, JSON and subtitle text, where "#" at a line start is not Markdown.
        A Document with a `cues` entry (subtitles: the (start, end) timestamps of every line) gives
        chunks with the `start` and `end` of the cue on the chunk's first line instead.
        """
        documents = list(documents)
        chunks: list[Document] = []
        next_index: dict[object, int] = {}
        for document in documents:
            source = document.metadata.get("source")
            markdown = document.metadata.get("file_type") not in _PLAIN_TEXT_TYPES
            cues = _CueLocator(document) if "cues" in document.metadata else None
            for headings, text in self._split(document.page_content, markdown):
                index = next_index.get(source, 0)
                next_index[source] = index + 1
                metadata = {**document.metadata, "headings": headings, "chunk_index": index}
                if cues is not None:
                    del metadata["cues"]
                    metadata.update(cues.timing(text))
                chunks.append(Document(page_content=text, metadata=metadata))

        logger.debug("Split %d documents into %d chunks", len(documents), len(chunks))
        return chunks

    def _split(self, text: str, markdown: bool) -> Iterator[tuple[str, str]]:
        """Yield (heading path, chunk) pairs for `text`."""
        sections = _parse_sections(text) if markdown else [_Section("", "", text)]
        for section in sections:
            for chunk in self._split_section(section):
                yield section.headings, chunk

    def _split_section(self, section: _Section) -> list[str]:
        heading_text = section.heading_text if section.heading_text.strip() else ""
        units: list[_Unit] = []
        for text, table in _split_tables(section.body):
            if table is None:
                units.extend(_Unit(piece) for piece in _split_units(text, self._chunk_size))
                continue
            # The first block of a table right under the heading leaves room for the heading lines.
            first_limit = self._chunk_size - len(heading_text) if not units else self._chunk_size
            units.extend(_table_units(table, self._chunk_size, first_limit))

        if heading_text:
            units = self._attach_heading(heading_text, units)
        return self._merge(units)

    def _attach_heading(self, heading_text: str, units: list[_Unit]) -> list[_Unit]:
        """Glue the heading lines to the start of the first paragraph, so no chunk ends with a heading."""
        if not units:
            # NOTE: a heading at the end of the text, with nothing under it, becomes a chunk of its own.
            return [_Unit(heading_text)]

        first = units[0]
        budget = self._chunk_size - len(heading_text)
        if len(first.text) <= budget:
            return [_Unit(heading_text + first.text, first.table), *units[1:]]
        if budget <= 0:
            # NOTE: headings longer than chunk_size are cut like any text, so a chunk may end inside them.
            pieces = _hard_split(heading_text + first.text, self._chunk_size)
            return [*(_Unit(piece) for piece in pieces), *units[1:]]

        pieces = _split_units(first.text, budget)
        return [_Unit(heading_text + pieces[0]), *(_Unit(piece) for piece in pieces[1:]), *units[1:]]

    def _merge(self, units: list[_Unit]) -> list[str]:
        """Join consecutive units into chunks of at most chunk_size, with overlap between prose chunks."""
        chunks: list[str] = []
        current = ""
        previous_table = False
        for unit in units:
            if current.strip() and len(current) + len(unit.text) > self._chunk_size:
                chunks.append(current)
                prose = not unit.table and not previous_table
                current = self._overlap(current, self._chunk_size - len(unit.text)) if prose else ""
            current += unit.text
            previous_table = unit.table
        chunks.append(current)

        return [chunk.strip() for chunk in chunks if chunk.strip()]

    def _overlap(self, chunk: str, budget: int) -> str:
        """Return the end of `chunk` to repeat at the start of the next chunk, at most `budget` long."""
        size = min(self._chunk_overlap, budget)
        if size <= 0:
            return ""

        start = len(chunk) - size
        for separator in _OVERLAP_STARTS:
            boundary = _first_split_after(chunk, separator, start)
            if boundary is not None:
                return chunk[boundary:].lstrip()

        # No punctuation or whitespace near the end (a long unpunctuated CJK run): cut by characters.
        while start < len(chunk) and not _can_split_at(chunk, start):
            start += 1
        return chunk[start:].lstrip()


def split_documents(documents: Iterable[Document], chunk_size: int = 500, chunk_overlap: int = 50) -> list[Document]:
    """Split Documents with a ChineseTextSplitter; see ChineseTextSplitter.split_documents."""
    return ChineseTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap).split_documents(documents)


def _validate_sizes(chunk_size: int, chunk_overlap: int) -> None:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
        raise InvalidChunkSetting("error.chunk_size_invalid", value=chunk_size)
    valid_overlap = isinstance(chunk_overlap, int) and not isinstance(chunk_overlap, bool)
    if not valid_overlap or not 0 <= chunk_overlap < chunk_size:
        raise InvalidChunkSetting("error.chunk_overlap_invalid", value=chunk_overlap, chunk_size=chunk_size)


def _parse_sections(text: str) -> list[_Section]:
    """Cut Markdown text into sections at ATX headings ("# ..."), skipping fenced code blocks.

    Consecutive headings with no text between them form one section under the deepest heading.
    """
    sections: list[_Section] = []
    path: list[tuple[int, str]] = []
    heading_lines: list[str] = []
    body_lines: list[str] = []
    fence = None

    for line in text.splitlines(keepends=True):
        fence, in_code = _track_fence(fence, line)
        heading = None if in_code else _parse_heading(line)
        if heading is None:
            target = body_lines if body_lines or line.strip() else heading_lines
            target.append(line)
            continue

        if body_lines:
            sections.append(_make_section(path, heading_lines, body_lines))
            heading_lines, body_lines = [], []
        path = [(level, title) for level, title in path if level < heading[0]] + [heading]
        heading_lines.append(line)

    sections.append(_make_section(path, heading_lines, body_lines))
    return [section for section in sections if (section.heading_text + section.body).strip()]


def _make_section(path: list[tuple[int, str]], heading_lines: list[str], body_lines: list[str]) -> _Section:
    headings = " > ".join(title for _, title in path)
    return _Section(headings, "".join(heading_lines), "".join(body_lines))


def _track_fence(fence: str | None, line: str) -> tuple[str | None, bool]:
    """Return the open code fence after `line`, and whether `line` belongs to a code block.

    Fences may be indented, because MkDocs nests them inside admonitions. A fence closes on a line
    with only the same character, repeated at least as often as in the opening fence.
    """
    match = _FENCE.match(line)
    if fence is None:
        return (match.group(1), True) if match else (None, False)

    closes = match is not None and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)
    if closes and not line[match.end():].strip():
        return None, True
    return fence, True


def _parse_heading(line: str) -> tuple[int, str] | None:
    """Return (level, title) for an ATX heading line, with links reduced to their text."""
    match = _HEADING.match(line.rstrip("\r\n"))
    if match is None:
        return None

    title = " ".join(_LINK.sub(r"\1", match.group(2)).split())
    return (len(match.group(1)), title) if title else None


def _split_tables(body: str) -> list[tuple[str, _Table | None]]:
    """Cut a section body into runs of text and pipe tables, skipping fenced code blocks.

    A table starts at a line with "|" followed by a delimiter line ("| --- | :-: |") with the same
    number of cells, and goes on while lines are not blank and contain "|".
    """
    lines = body.splitlines(keepends=True)
    segments: list[tuple[str, _Table | None]] = []
    text_start = 0
    index = 0
    fence = None
    while index < len(lines):
        fence, in_code = _track_fence(fence, lines[index])
        if in_code or not _starts_table(lines, index):
            index += 1
            continue

        end = index + 2
        while end < len(lines) and lines[end].strip() and "|" in lines[end]:
            end += 1
        segments.append(("".join(lines[text_start:index]), None))
        segments.append(("", _Table("".join(lines[index:index + 2]), lines[index + 2:end])))
        text_start = index = end

    segments.append(("".join(lines[text_start:]), None))
    return [(text, table) for text, table in segments if table is not None or text]


def _starts_table(lines: list[str], index: int) -> bool:
    if index + 1 >= len(lines) or "|" not in lines[index] or "|" not in lines[index + 1]:
        return False
    if not _TABLE_DELIMITER.match(lines[index + 1].rstrip("\r\n")):
        return False
    return _cell_count(lines[index]) == _cell_count(lines[index + 1])


def _cell_count(line: str) -> int:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return len(_CELL_SEPARATOR.split(line))


def _table_units(table: _Table, limit: int, first_limit: int) -> list[_Unit]:
    """Group table rows into blocks of at most `limit` characters, each starting with the header.

    The first block is at most `first_limit` long. A row longer than a block is cut like text, and
    each piece gets the header. When the header leaves too little room, the table is split like text.
    """
    header = table.header if table.header.endswith("\n") else table.header + "\n"
    if min(limit, first_limit) - len(header) < limit * _MIN_ROW_SHARE:
        return [_Unit(piece) for piece in _split_units(table.header + "".join(table.rows), limit)]
    if not table.rows:
        return [_Unit(header, table=True)]

    units: list[_Unit] = []
    block = ""
    for row in table.rows:
        budget = (first_limit if not units else limit) - len(header)
        for piece in _split_units(row, budget):
            if block and len(block) + len(piece) > budget:
                units.append(_Unit(header + block, table=True))
                block = ""
                budget = limit - len(header)
            block += piece
    units.append(_Unit(header + block, table=True))
    return units


class _CueLocator:
    """Find the subtitle cue on the first line of each chunk of one Document, chunks taken in order."""

    def __init__(self, document: Document) -> None:
        self.text = document.page_content
        self.cues = list(document.metadata["cues"])
        self.position = 0
        self.line = 0

    def timing(self, chunk: str) -> dict[str, str]:
        """Return {"start": ..., "end": ...} of the cue where `chunk` starts, or {} without cues."""
        found = self.text.find(chunk, self.position)
        if found >= 0:
            self.line += self.text.count("\n", self.position, found)
            self.position = found
        if not self.cues:
            return {}

        start, end = self.cues[min(self.line, len(self.cues) - 1)]
        return {"start": start, "end": end}


def _split_units(text: str, limit: int, level: int = 0) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters at the strongest separator that works.

    Joining the pieces gives back `text` exactly: each separator stays at the end of its piece.
    """
    if len(text) <= limit:
        return [text] if text else []
    if level == len(_SEPARATORS):
        return _hard_split(text, limit)

    units: list[str] = []
    for piece in _split_after(text, _SEPARATORS[level]):
        units.extend(_split_units(piece, limit, level + 1))
    return units


def _split_after(text: str, separator: re.Pattern[str]) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in separator.finditer(text):
        end = match.end()
        if start < end < len(text) and _can_split_at(text, end):
            pieces.append(text[start:end])
            start = end
    pieces.append(text[start:])
    return pieces


def _first_split_after(text: str, separator: re.Pattern[str], start: int) -> int | None:
    """Return the first split point at or after `start` and before the end of `text`, if any."""
    # Start matching a little earlier, so a separator that straddles `start` is still found.
    for match in separator.finditer(text, max(0, start - 8)):
        end = match.end()
        if start <= end < len(text) and _can_split_at(text, end):
            return end
    return None


def _hard_split(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters, moving each cut before any punctuation."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = limit
        while cut > 0 and not _can_split_at(text, cut):
            cut -= 1
        if cut == 0:
            cut = limit  # every position in the window is before punctuation, so no better cut exists
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def _can_split_at(text: str, index: int) -> bool:
    """Return whether a chunk may start at `text[index]`, judged by its first non-whitespace character.

    Chunks are stripped, so whitespace at the cut must not hide the mark behind it.
    """
    start = index
    while start < len(text) and text[start].isspace():
        start += 1
    if start == len(text):
        return True

    char = text[start]
    if char in _NO_LEADING:
        return False
    return not (char in _NO_LEADING_ATTACHED and start > 0 and not text[start - 1].isspace())
