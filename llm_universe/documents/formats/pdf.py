"""PDF loader: the PDFium text layer per page, checked for quality, with OCR for pages that need it.

A page is read with OCR when its text layer is missing (fewer than MIN_TEXT_CHARS visible characters
while images cover part of the page) or garbled (see cleaning.is_garbled). The OCR text replaces the
text layer only when it scores better. Text-layer pages lose their page-number lines, get CJK
spacing artefacts repaired and hard-wrapped lines joined.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from llm_universe.documents import cleaning
from llm_universe.documents.formats.common import LoadContext, Part, normalize_text
from llm_universe.errors import DocumentLoadError

logger = logging.getLogger(__name__)

# PDFium is not thread-safe (pypdfium2 documents this), and the web UI may ingest two files at once,
# so every PDFium call in this process goes through this lock. OCR itself runs outside it.
PDFIUM_LOCK = threading.RLock()

# A page whose text layer has fewer visible characters than this has no usable text layer.
MIN_TEXT_CHARS = 20
# Images must cover at least this share of a page before an almost empty page is worth OCR.
MIN_IMAGE_COVERAGE = 0.02

_VISIBLE = re.compile(r"\S")


@dataclass
class _Page:
    """The text layer of one page and why it needs OCR ("" when it does not)."""

    number: int
    text: str
    ocr_reason: str = ""


def load_pdf(path: Path, context: LoadContext) -> list[Part]:
    """Load one Part per page (1-based `page`), using OCR where the text layer is missing or garbled."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        pdf = _open(pdfium, path, context.name)
    try:
        pages = _read_text_layer(pdf, context.name)
        ocr_parts = _ocr_pages(pdf, [page for page in pages if page.ocr_reason], context)
    finally:
        with PDFIUM_LOCK:
            pdf.close()

    return [ocr_parts.get(page.number) or _text_part(page) for page in pages]


def _open(pdfium, path: Path, name: str):
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium.raw.FPDF_ERR_PASSWORD, pdfium.raw.FPDF_ERR_SECURITY):
            raise DocumentLoadError("error.file_encrypted", name=name) from exc
        raise DocumentLoadError(name=name, reason_key="reason.invalid_pdf", detail=str(exc)) from exc


def _read_text_layer(pdf, name: str) -> list[_Page]:
    pages = []
    with PDFIUM_LOCK:
        for index in range(len(pdf)):
            text = normalize_text(_page_text(pdf, index, name))
            pages.append(_Page(index + 1, text, _ocr_reason(pdf, index, text)))
    return pages


def _page_text(pdf, index: int, name: str) -> str:
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


def _ocr_reason(pdf, index: int, text: str) -> str:
    """Return "garbled" or "no_text_layer" when the page should be read with OCR, else ""."""
    # NOTE: a page whose text is drawn as vector outlines has neither text nor images, so it is not read.
    if cleaning.is_garbled(text):
        return "garbled"
    visible = len(_VISIBLE.findall(cleaning.strip_page_numbers(text)))
    if visible < MIN_TEXT_CHARS and _image_coverage(pdf, index) >= MIN_IMAGE_COVERAGE:
        return "no_text_layer"
    return ""


def _image_coverage(pdf, index: int) -> float:
    """Return the share of the page area covered by image objects (overlaps counted twice, capped at 1)."""
    import pypdfium2 as pdfium

    try:
        page = pdf[index]
    except pdfium.PdfiumError:
        return 0.0
    try:
        width, height = page.get_size()
        covered = 0.0
        for image in page.get_objects(filter=(pdfium.raw.FPDF_PAGEOBJ_IMAGE,)):
            left, bottom, right, top = image.get_bounds()
            covered += max(0.0, right - left) * max(0.0, top - bottom)
    finally:
        page.close()
    return min(1.0, covered / (width * height)) if width and height else 0.0


def _ocr_pages(pdf, pages: list[_Page], context: LoadContext) -> dict[int, Part]:
    """Run OCR on `pages` and return a Part for each page where OCR beat the text layer, by page number."""
    if not pages:
        return {}

    started = time.perf_counter()
    context.report("ocr", 0, len(pages))
    parts = {}
    for done, page in enumerate(pages, start=1):
        part = _ocr_page(pdf, page, context.name)
        if part is not None:
            parts[page.number] = part
        context.report("ocr", done, len(pages))

    logger.info(
        "OCR of %s: %d of %d pages read in %.1f s", context.name, len(parts), len(pages), time.perf_counter() - started,
    )
    return parts


def _ocr_page(pdf, page: _Page, name: str) -> Part | None:
    import numpy as np

    from llm_universe.documents import ocr

    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            pdf_page = pdf[page.number - 1]
            try:
                pixels = pdf_page.render(scale=ocr.PDF_RENDER_SCALE).to_numpy()
                image = np.array(pixels[:, :, :3] if pixels.ndim == 3 else pixels, copy=True)
            finally:
                pdf_page.close()
        except pdfium.PdfiumError as exc:
            logger.warning("Could not render page %d of %s for OCR: %s", page.number, name, exc)
            return None
    result = ocr.recognize(image)

    text = cleaning.join_wrapped_lines(cleaning.strip_page_numbers(result.text))
    quality = round(result.confidence * cleaning.text_quality(text), 3)
    logger.debug("Page %d of %s (%s): OCR read %d characters, quality %.3f", page.number, name, page.ocr_reason,
                 len(text), quality)
    if result.empty or not _ocr_is_better(page, text, quality):
        return None
    return Part(text, page.number, ocr=True, quality=quality)


def _ocr_is_better(page: _Page, ocr_text: str, ocr_quality: float) -> bool:
    """Compare OCR with the text layer: by quality for a garbled page, by visible characters otherwise."""
    if page.ocr_reason == "garbled":
        return ocr_quality > cleaning.text_quality(page.text)
    return len(_VISIBLE.findall(ocr_text)) > len(_VISIBLE.findall(page.text))


def _text_part(page: _Page) -> Part:
    quality = cleaning.text_quality(page.text)
    text = cleaning.repair_cjk_spacing(cleaning.strip_page_numbers(page.text))
    return Part(cleaning.join_wrapped_lines(text), page.number, quality=quality)
