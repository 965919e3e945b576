"""Clean extracted text and score how well it was extracted.

Text extraction goes wrong in a few recognisable ways, and this module detects each of them:

- CJK spacing artefacts: some PDFs place every character on its own, so the text layer reads
  "大 模 型 是". `repair_cjk_spacing` removes those spaces when they sit between most CJK pairs.
- Hard-wrapped lines: PDF text keeps the line breaks of the page layout, even inside a sentence.
  `join_wrapped_lines` joins a line to the next one when it fills the line width and does not
  end a sentence.
- Garbled text: mojibake (UTF-8 read as Windows-1252 or as GBK), CID glyph names written out as
  text ("(cid:1234)"), private-use characters from fonts without a Unicode map, and U+FFFD.
  `garbled_ratio` measures it, and `text_quality` turns it into a 0-1 score.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from langchain_core.documents import Document

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# CJK punctuation, full-width forms and CJK symbols, which close up to CJK text like ideographs do.
_CJK_PUNCTUATION = "\u3001-\u303f\uff01-\uff60\uffe0-\uffe6\u2018-\u201d\u2026\u00b7"
_CJK_OR_PUNCTUATION = f"[{_CJK}{_CJK_PUNCTUATION}]"

_SPACED_CJK = re.compile(rf"(?<={_CJK_OR_PUNCTUATION})[ \t](?={_CJK_OR_PUNCTUATION})")
_SPACED_IDEOGRAPHS = re.compile(rf"[{_CJK}][ \t](?=[{_CJK}])")
_TIGHT_IDEOGRAPHS = re.compile(rf"[{_CJK}](?=[{_CJK}])")
_CJK_CHAR = re.compile(f"[{_CJK}]")

# A text has spacing artefacts when at least this share of its adjacent ideograph pairs has a space
# between them, and at least _MIN_SPACED_PAIRS such pairs exist. Chinese legal texts write some
# headings as "第一章 总 则" on purpose, which gives about half spaced pairs in a list of headings.
SPACED_PAIR_SHARE = 0.7
_MIN_SPACED_PAIRS = 8

# Private-use code points. Adobe's Symbol encoding maps its bracket and brace pieces (used by TeX for
# large delimiters) to U+F8E5-U+F8FF, so those are real glyphs and are not counted as garbled.
_PRIVATE_USE = re.compile("[\ue000-\uf8e4\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
_GLYPH_NAMES = re.compile(r"\(cid:\d+\)|/(?:gid|glyph|G)\d{2,}\b|\b(?:gid|glyph)\d{2,}\b|/uni[0-9A-Fa-f]{4,6}\b")
# Characters that UTF-8 bytes turn into when decoded as Windows-1252 or Latin-1.
_LATIN1_RUN = re.compile("[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                         "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{2,}")
# GBK bytes decoded as Latin-1 give runs of accented letters ("µ±ÊÂÈË"), which European words rarely have.
_GBK_AS_LATIN1_RUN = re.compile("[\u00a1-\u00ff]{4,}")
# UTF-8 bytes decoded as GBK give runs of rare ideographs, often with "€" or "锟斤拷".
_GBK_RUN = re.compile(f"[{_CJK}\u20ac\u3001-\u303f\uff01-\uff5e]{{3,}}")
_GBK_MARKERS = re.compile("锟斤拷|烫烫烫|屯屯屯")
_SPACES = re.compile(r"\s+")

# A page counts as garbled, and is worth OCR, when this share of its visible characters is garbled.
GARBLED_PAGE_RATIO = 0.15

# Sentence ends after which a line break is a real paragraph or item break.
_SENTENCE_END = frozenset("。！？；：…．.!?;:")
_CLOSING = frozenset("」』”’）)］]】》〉〕｝}\"'")
# Lines that start an article, list item, figure or table caption, so a break before them is kept.
_ITEM_START = re.compile(
    r"^(?:第[一二三四五六七八九十百千零\d]+[条章节编款项]|[（(][一二三四五六七八九十\d]+[）)]"
    r"|[一二三四五六七八九十]+、|\d+(?:\.\d+)*[.、)）]\s?\S|[•·●○■□◆▪\-–—*]\s|[表图]\s?\d)"
)
_NUMERIC_FIELD = re.compile(r"^[-+]?[\d,，.]+%?$")

# Page-number lines printed in a page header or footer: "— 1 —", "- 12 -", "第 3 页", "3 / 10", "Page 3".
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–\s]*\d{1,4}[-—–\s]*|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)$",
    re.IGNORECASE,
)


def has_cjk_spacing_artifacts(text: str) -> bool:
    """Return whether most adjacent CJK ideograph pairs in `text` are separated by one space."""
    spaced = len(_SPACED_IDEOGRAPHS.findall(text))
    if spaced < _MIN_SPACED_PAIRS:
        return False

    tight = len(_TIGHT_IDEOGRAPHS.findall(text))
    return spaced / (spaced + tight) >= SPACED_PAIR_SHARE


def repair_cjk_spacing(text: str) -> str:
    """Remove single spaces between CJK characters when `text` has spacing artefacts ("大 模 型" → "大模型").

    Text without artefacts is returned unchanged, so intended spacing such as "第一章 总 则" stays.
    Spaces between CJK and Latin letters or digits are kept, and so are runs of two or more spaces.
    """
    if not has_cjk_spacing_artifacts(text):
        return text
    return _SPACED_CJK.sub("", text)


def strip_page_numbers(text: str) -> str:
    """Remove page-number lines ("— 1 —", "第 3 页", "12") among the first two and last two lines."""
    lines = text.split("\n")
    edge = {0, 1, len(lines) - 2, len(lines) - 1}
    kept = [line for index, line in enumerate(lines) if index not in edge or not _PAGE_NUMBER.match(line.strip())]
    return "\n".join(kept)


def join_wrapped_lines(text: str) -> str:
    """Join lines that the page layout wrapped in the middle of a sentence.

    A line is a wrap when its display width (CJK characters count 2) is near the typical full line
    width of `text` and it does not end with sentence punctuation. A line is kept apart when it or
    the next line looks like a table row, or when the next line starts an article or list item.
    Two Latin words are joined with a space, anything involving CJK without one. Texts of fewer
    than four lines are returned unchanged, because their full width cannot be estimated.
    """
    lines = [line.strip() for line in text.split("\n")]
    full_width = _typical_full_width(lines)
    if full_width is None:
        return text

    threshold = full_width - max(4, int(full_width * 0.08))
    joined: list[str] = []
    for line in lines:
        if joined and _is_wrapped(joined[-1], line, threshold):
            joined[-1] = _join_pair(joined[-1], line)
        else:
            joined.append(line)
    return "\n".join(joined)


def garbled_ratio(text: str) -> float:
    """Return the share of visible characters in `text` that are garbled (0.0 for empty text).

    Counts private-use characters, U+FFFD, written-out glyph names such as "(cid:12)", and mojibake:
    runs that decode as UTF-8 once re-encoded as Windows-1252 or GBK, and runs of four or more
    Latin-1 letters that decode as GBK ideographs.
    """
    visible = len(_SPACES.sub("", text))
    if visible == 0:
        return 0.0

    garbled = len(_PRIVATE_USE.findall(text)) + text.count("\ufffd")
    garbled += sum(len(match.group()) for match in _GLYPH_NAMES.finditer(text))
    garbled += _mojibake_chars(text)
    return min(1.0, garbled / visible)


def is_garbled(text: str) -> bool:
    """Return whether `text` is garbled enough that re-reading it (OCR) is worth trying."""
    return garbled_ratio(text) >= GARBLED_PAGE_RATIO


def text_quality(text: str) -> float:
    """Score extracted text from 0 (empty or entirely garbled) to 1 (no garbled characters found)."""
    if not text.strip():
        return 0.0
    return round(1.0 - garbled_ratio(text), 3)


def count_cjk(text: str) -> int:
    """Return the number of CJK ideographs in `text`."""
    return len(_CJK_CHAR.findall(text))


def parse_quality(documents: Iterable[Document]) -> float:
    """Return the parse-quality score of one file: the mean `quality` of its Documents, from 0 to 1.

    A Document without a `quality` entry in its metadata is scored with `text_quality`. Returns 0.0
    when there are no Documents.
    """
    scores = []
    for document in documents:
        quality = document.metadata.get("quality")
        scores.append(float(quality) if isinstance(quality, (int, float)) else text_quality(document.page_content))
    return round(sum(scores) / len(scores), 3) if scores else 0.0


def _mojibake_chars(text: str) -> int:
    count = 0
    for match in _LATIN1_RUN.finditer(text):
        if _decodes_as_utf8(_encode_windows_1252(match.group())):
            count += len(match.group())
    for match in _GBK_AS_LATIN1_RUN.finditer(text):
        if _decodes_as_gbk_ideographs(match.group().encode("latin-1")):
            count += len(match.group())
    for match in _GBK_RUN.finditer(text):
        if _is_utf8_read_as_gbk(match.group()):
            count += len(match.group())
    count += 3 * len(_GBK_MARKERS.findall(text))
    return count


def _encode_windows_1252(run: str) -> bytes:
    """Encode a run as Windows-1252, falling back to Latin-1 for the five bytes 1252 leaves undefined."""
    data = bytearray()
    for char in run:
        try:
            data += char.encode("cp1252")
        except UnicodeEncodeError:
            data.append(ord(char) if ord(char) < 256 else 0x3F)
    return bytes(data)


def _decodes_as_utf8(data: bytes) -> bool:
    """Return whether `data` is valid UTF-8 containing at least one multi-byte character."""
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return len(decoded) < len(data)


def _is_utf8_read_as_gbk(run: str) -> bool:
    """Return whether a run of ideographs turns back into mostly valid UTF-8 Chinese when re-encoded as GBK.

    Real Chinese text re-encoded this way gives almost only invalid UTF-8, while mojibake decodes
    with at most a few errors where the original decoder had replaced a byte.
    """
    try:
        data = run.encode("gb18030")
    except UnicodeEncodeError:
        return False

    decoded = data.decode("utf-8", errors="replace")
    recovered = count_cjk(decoded)
    return recovered >= 2 and decoded.count("\ufffd") * 4 <= recovered


def _decodes_as_gbk_ideographs(data: bytes) -> bool:
    """Return whether `data` is valid GBK text of which at least half the characters are ideographs."""
    try:
        decoded = data.decode("gbk")
    except UnicodeDecodeError:
        return False
    return count_cjk(decoded) * 2 >= len(decoded)


def _display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def _typical_full_width(lines: list[str]) -> int | None:
    """Return the width that full lines of this text reach: the 80th percentile of line widths."""
    widths = sorted(_display_width(line) for line in lines if line)
    if len(widths) < 4:
        return None
    return widths[int(len(widths) * 0.8)]


def _is_wrapped(line: str, following: str, threshold: int) -> bool:
    if not line or not following:
        return False
    if _display_width(line) < threshold:
        return False

    last = line.rstrip("".join(_CLOSING))[-1:] or line[-1]
    if last in _SENTENCE_END:
        return False
    if _ITEM_START.match(following) or _looks_like_table_row(line) or _looks_like_table_row(following):
        return False
    return True


def _looks_like_table_row(line: str) -> bool:
    """Return whether a line has two or more numeric fields among three or more space-separated fields."""
    fields = line.split()
    return len(fields) >= 3 and sum(1 for field in fields if _NUMERIC_FIELD.match(field)) >= 2


def _join_pair(line: str, following: str) -> str:
    if line.endswith("-") and line[-2:-1].isalpha():
        return line + following
    if line[-1].isascii() and line[-1].isalnum() and following[0].isascii() and following[0].isalnum():
        return f"{line} {following}"
    return line + following
