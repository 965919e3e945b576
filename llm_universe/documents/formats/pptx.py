"""PPTX loader: one Part per slide, with `page` set to the 1-based slide number.

A slide's title becomes a Markdown heading. The other shapes follow from top to bottom and left to
right: text boxes, tables as Markdown pipe tables, pictures as their OCR text, then the speaker notes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from llm_universe.documents.formats.common import LoadContext, Part, collapse_spaces
from llm_universe.documents.formats.images import recognize_images
from llm_universe.documents.formats.office import is_encrypted_office_file
from llm_universe.documents.formats.tables import render_markdown_table
from llm_universe.errors import DocumentLoadError, EmptyDocumentError

# A slide's content before OCR: text blocks, and pictures as their image bytes.
_Item = str | bytes


def load_pptx(path: Path, context: LoadContext) -> list[Part]:
    """Load one Part per slide, skipping slides without text.

    Raises DocumentLoadError("error.file_encrypted") for a password-protected file, and
    EmptyDocumentError("error.file_image_only") when the slides have pictures but no text and OCR
    finds none in them.
    """
    import pptx
    from lxml.etree import XMLSyntaxError
    from pptx.exc import PackageNotFoundError

    try:
        presentation = pptx.Presentation(str(path))
        slides = [_slide_items(slide) for slide in presentation.slides]
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError) as exc:
        if is_encrypted_office_file(path):
            raise DocumentLoadError("error.file_encrypted", name=context.name) from exc
        raise DocumentLoadError(name=context.name, reason_key="reason.invalid_pptx") from exc
    except XMLSyntaxError as exc:
        raise DocumentLoadError(name=context.name, reason_key="reason.damaged_pptx", detail=str(exc)) from exc

    images = [item for items in slides for item in items if isinstance(item, bytes)]
    image_texts = iter(recognize_images(images, context))
    parts = []
    for number, items in enumerate(slides, start=1):
        texts = [next(image_texts) if isinstance(item, bytes) else item for item in items]
        ocr_used = any(text for item, text in zip(items, texts) if isinstance(item, bytes))
        parts.append(Part("\n\n".join(text for text in texts if text), page=number, ocr=ocr_used))

    if images and not any(part.text.strip() for part in parts):
        raise EmptyDocumentError("error.file_image_only", name=context.name)
    return parts


def _slide_items(slide) -> list[_Item]:
    title = slide.shapes.title
    items: list[_Item] = []
    if title is not None and title.has_text_frame and title.text_frame.text.strip():
        items.append("# " + collapse_spaces(title.text_frame.text))

    for shape in _ordered(slide.shapes):
        if title is None or shape.shape_id != title.shape_id:
            items.extend(_shape_items(shape))

    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            items.append(notes.text.strip())
    return items


def _shape_items(shape) -> list[_Item]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        return [item for child in _ordered(shape.shapes) for item in _shape_items(child)]
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[collapse_spaces(cell.text) for cell in row.cells] for row in shape.table.rows]
        return [render_markdown_table(rows)]
    if shape.has_text_frame:
        return [shape.text_frame.text.strip()]
    return _picture_blob(shape)


def _picture_blob(shape) -> list[_Item]:
    """Return the image bytes of a picture shape, or [] for other shapes and pictures without data."""
    try:
        image = shape.image
    except (AttributeError, KeyError, ValueError):
        return []
    return [image.blob] if image.blob else []


def _ordered(shapes) -> list:
    return sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))
