"""Pieces shared by the format loaders: the Part a loader returns, the load context, text decoding."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llm_universe.errors import DocumentLoadError, EncodingDetectionError

# Tried in this order, and the first that decodes without an error wins. utf-8-sig also strips a UTF-8
# BOM, and GB18030 is a superset of GBK and GB2312. Latin-1 is left out on purpose because it decodes
# any byte string, so it would hide GBK text as mojibake.
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")

# Windows Notepad saves "Unicode" text as UTF-16 with a BOM, and the BOM identifies it reliably.
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BREAK_CHARS = re.compile(r"\r\n?|[\x0b\x0c\u2028\u2029]")
_SPACES = re.compile(r"\s+")

# A callable that receives (stage, done, total), for example ("ocr", 2, 5) after the second of five pages.
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class Part:
    """A piece of text produced by a loader, before cleaning: a PDF page, a slide, a sheet, a whole file.

    `quality` is None when it should be measured from the text. `metadata` contains format-specific
    entries (`sheet`, `start`, `end`, `cues`) added to the Document.
    """

    text: str
    page: int | None = None
    ocr: bool = False
    quality: float | None = None
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass
class LoadContext:
    """The inputs of a loader besides the path: the file name to report and the progress callback."""

    name: str
    progress: ProgressCallback | None = None

    def report(self, stage: str, done: int, total: int) -> None:
        """Call the progress callback, if any, with (stage, done, total)."""
        if self.progress is not None:
            self.progress(stage, done, total)


def normalize_text(text: str) -> str:
    """Convert CR LF, CR, vertical tab, form feed and Unicode line separators to LF, and drop other C0 controls."""
    return _CONTROL_CHARS.sub("", _BREAK_CHARS.sub("\n", text))


def collapse_spaces(text: str) -> str:
    """Replace every whitespace run with one space and strip both ends."""
    return _SPACES.sub(" ", text).strip()


def read_text(path: Path, name: str) -> tuple[str, str]:
    """Read and decode a text file; see `read_text_file` in loaders.py for the rules."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise os_error(name, exc) from exc

    text, encoding = decode_text(data, name)
    return normalize_text(text), encoding


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """Decode bytes with a UTF-16 BOM, or as the first of TEXT_ENCODINGS that fits; return (text, encoding)."""
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


def os_error(name: str, exc: OSError) -> DocumentLoadError:
    """Wrap an OSError raised while reading `name` in a DocumentLoadError."""
    return DocumentLoadError(name=name, reason_key="reason.os_error", detail=exc.strerror or type(exc).__name__)


def _decode_utf16(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-16")
    except UnicodeDecodeError as exc:
        raise EncodingDetectionError(name=name) from exc
