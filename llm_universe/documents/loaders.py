"""Load files into LangChain `Document`s, with one loader per file type (see `formats/`).

Every loader returns text with `\\n` line endings and without C0 control characters. Markdown headings
(`# ...`) mark the document structure: DOCX heading styles, HTML `<h1>`-`<h6>`, slide titles and sheet
names are turned into them, so the splitter can keep them as metadata. Tables in documents (DOCX,
HTML, EPUB, PPTX) become Markdown pipe tables, and rows of data files (CSV, XLSX, JSON record lists)
become "header: value; header: value" lines.

Every Document carries these metadata keys:

- `source`: the file name, never a path; `file_type`: the extension without the dot.
- `page`: the 1-based page number for PDFs and the slide number for PPTX, None otherwise.
- `quality`: the parse quality of this page or part, from 0 (garbled) to 1 (clean); see cleaning.py.
- `ocr`: whether the text, or part of it, was read from images with OCR.
- `parse_quality`: the score of the whole file, the same on all its Documents (see `parse_quality`).
- XLSX adds `sheet`. SRT and WebVTT add `start` and `end` (first cue, "HH:MM:SS.mmm") and `cues`,
  the (start, end) of every text line, which the splitter replaces with each chunk's first cue.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from langchain_core.documents import Document

from llm_universe.documents import cleaning
from llm_universe.documents.cleaning import parse_quality
from llm_universe.documents.formats import docx, html, pdf, pptx, structured, subtitles, xlsx
from llm_universe.documents.formats.common import (
    TEXT_ENCODINGS,
    LoadContext,
    Part,
    ProgressCallback,
    normalize_text,
    os_error,
    read_text,
)
from llm_universe.errors import DocumentLoadError, EmptyDocumentError, LLMUniverseError, UnsupportedFileType

logger = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "TEXT_ENCODINGS",
    "ProgressCallback",
    "load_document",
    "load_documents",
    "parse_quality",
    "read_text_file",
]

SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".pdf", ".md", ".markdown", ".txt", ".docx", ".html", ".htm", ".csv",
    ".xlsx", ".pptx", ".json", ".srt", ".vtt", ".epub",
)


def load_document(path: str | Path, display_name: str | None = None,
                  progress: ProgressCallback | None = None) -> list[Document]:
    """Load one file into Documents, choosing the loader by the file extension.

    `display_name`, for example the original name of an uploaded file, becomes the `source` metadata
    after reduction to its base name. Without it, `source` is the file name of `path`. A PDF gives one
    Document per page that has text, a PPTX one per slide, an XLSX one per sheet, an EPUB one per
    chapter file, and every other type gives one Document. `progress`, if given, is called as
    `progress("ocr", done, total)` before the first and after every page or picture read with OCR.

    Raises UnsupportedFileType for an extension outside SUPPORTED_EXTENSIONS, and
    EncodingDetectionError for text that decodes as neither UTF-8 nor GB18030. Raises
    EmptyDocumentError when the file is 0 bytes or has no text, with the key "error.file_image_only"
    when it has only pictures and OCR found no text in them. Raises DocumentLoadError when the file
    is missing, unreadable, damaged or encrypted.
    """
    path = Path(path)
    name = _base_name(display_name) if display_name else path.name
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise UnsupportedFileType(name=name, suffix=suffix, supported=", ".join(SUPPORTED_EXTENSIONS))
    _check_file(path, name)

    started = time.perf_counter()
    try:
        parts = loader(path, LoadContext(name, progress))
    except OSError as exc:
        raise os_error(name, exc) from exc
    documents = _to_documents(parts, name, suffix.lstrip("."))
    if not documents:
        raise EmptyDocumentError(name=name)

    _log_loaded(name, documents, time.perf_counter() - started)
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
    return read_text(path, path.name)


def _base_name(name: str) -> str:
    return re.split(r"[\\/]", name)[-1] or name


def _check_file(path: Path, name: str) -> None:
    """Reject a missing path, a folder and a 0-byte file before any loader runs.

    Checked here because python-docx reports a missing file as an invalid package, and a 0-byte
    DOCX or PDF as damaged, when the useful message is that the file is empty.
    """
    if not path.is_file():
        raise DocumentLoadError(name=name, reason_key="reason.folder" if path.is_dir() else "reason.not_found")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise os_error(name, exc) from exc
    if size == 0:
        raise EmptyDocumentError("error.file_zero_bytes", name=name)


def _to_documents(parts: list[Part], name: str, file_type: str) -> list[Document]:
    documents = []
    for part in parts:
        text = cleaning.repair_cjk_spacing(normalize_text(part.text)).strip("\n")
        if not text.strip():
            continue
        quality = part.quality if part.quality is not None else cleaning.text_quality(text)
        metadata = {"source": name, "file_type": file_type, "page": part.page, "quality": quality, "ocr": part.ocr}
        metadata.update(part.metadata)
        documents.append(Document(page_content=text, metadata=metadata))

    score = parse_quality(documents)
    for document in documents:
        document.metadata["parse_quality"] = score
    return documents


def _log_loaded(name: str, documents: list[Document], seconds: float) -> None:
    characters = sum(len(document.page_content) for document in documents)
    score = documents[0].metadata["parse_quality"]
    ocr_count = sum(1 for document in documents if document.metadata["ocr"])
    logger.info(
        "Loaded %s: %d documents (%d with OCR), %d characters, parse quality %.2f in %.2f s",
        name, len(documents), ocr_count, characters, score, seconds,
    )
    garbled = [document.metadata["page"] for document in documents if cleaning.is_garbled(document.page_content)]
    if garbled:
        logger.warning("%s still has garbled text on %d parts (pages %s); check the parse quality", name, len(garbled),
                       garbled[:10])


def _load_text(path: Path, context: LoadContext) -> list[Part]:
    text, _ = read_text(path, context.name)
    return [Part(text)]


_LOADERS: dict[str, Callable[[Path, LoadContext], list[Part]]] = {
    ".pdf": pdf.load_pdf,
    ".md": _load_text,
    ".markdown": _load_text,
    ".txt": _load_text,
    ".docx": docx.load_docx,
    ".html": html.load_html,
    ".htm": html.load_html,
    ".csv": structured.load_csv,
    ".xlsx": xlsx.load_xlsx,
    ".pptx": pptx.load_pptx,
    ".json": structured.load_json,
    ".srt": subtitles.load_subtitles,
    ".vtt": subtitles.load_subtitles,
    ".epub": html.load_epub,
}
