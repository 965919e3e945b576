"""DOCX loader: paragraphs and tables in document order, headings as Markdown, pictures read with OCR."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from llm_universe.documents.formats.common import LoadContext, Part, collapse_spaces
from llm_universe.documents.formats.images import recognize_images
from llm_universe.documents.formats.office import is_encrypted_office_file
from llm_universe.documents.formats.tables import render_markdown_table
from llm_universe.errors import DocumentLoadError, EmptyDocumentError

# Relationship ids of pictures in a paragraph: DrawingML (<a:blip r:embed>) and legacy VML (<v:imagedata r:id>).
_PICTURE_IDS = ".//a:blip/@r:embed | .//*[local-name()='imagedata']/@*[local-name()='id']"


def load_docx(path: Path, context: LoadContext) -> list[Part]:
    """Load a DOCX file as one Part; tables become Markdown pipe tables, pictures their OCR text.

    Raises DocumentLoadError("error.file_encrypted") for a password-protected file, and
    EmptyDocumentError("error.file_image_only") when the file has pictures but no text and OCR
    finds none in them.
    """
    import docx
    from docx.opc.exceptions import OpcError
    from lxml.etree import XMLSyntaxError

    try:
        document = docx.Document(str(path))
        blocks = [_block(item) for item in document.iter_inner_content()]
    except (OpcError, zipfile.BadZipFile, KeyError) as exc:
        if is_encrypted_office_file(path):
            raise DocumentLoadError("error.file_encrypted", name=context.name) from exc
        raise DocumentLoadError(name=context.name, reason_key="reason.invalid_docx") from exc
    except XMLSyntaxError as exc:
        raise DocumentLoadError(name=context.name, reason_key="reason.damaged_docx", detail=str(exc)) from exc

    images = [image for _, block_images in blocks for image in block_images]
    image_texts = recognize_images(images, context)
    remaining = iter(image_texts)
    texts = []
    for text, block_images in blocks:
        texts.append(text)
        texts.extend(next(remaining) for _ in block_images)

    content = "\n\n".join(text for text in texts if text)
    if images and not content.strip():
        raise EmptyDocumentError("error.file_image_only", name=context.name)
    return [Part(content, ocr=any(image_texts))]


def _block(item) -> tuple[str, list[bytes]]:
    """Return the text of a paragraph or table and the pictures of a paragraph."""
    from docx.table import Table

    if isinstance(item, Table):
        return render_markdown_table(_table_rows(item)), []
    return _paragraph_text(item), _paragraph_images(item)


def _paragraph_text(paragraph) -> str:
    text = paragraph.text.strip()
    if not text:
        return ""

    level = heading_level(paragraph.style.name if paragraph.style is not None else "")
    if level:
        return "#" * level + " " + collapse_spaces(text)
    return text


def _paragraph_images(paragraph) -> list[bytes]:
    images = []
    for relationship_id in paragraph._p.xpath(_PICTURE_IDS):
        part = paragraph.part.related_parts.get(str(relationship_id))
        blob = getattr(part, "blob", None)
        if blob:
            images.append(blob)
    return images


def heading_level(style_name: str) -> int:
    """Return the Markdown heading level for a paragraph style, or 0 for body text.

    Word's built-in styles are named "Heading 1" to "Heading 9", and some Chinese-language documents
    name them "标题 1". "Title" becomes level 1, and levels past 6 become 6, the deepest Markdown level.
    """
    if style_name.strip().lower() == "title":
        return 1
    match = re.fullmatch(r"\s*(?:heading|标题)\s*([1-9])\s*", style_name, flags=re.IGNORECASE)
    return min(int(match.group(1)), 6) if match else 0


def _table_rows(table) -> list[list[str]]:
    # NOTE: pictures inside table cells are not read with OCR.
    rows = []
    for row in table.rows:
        cells, previous = [], None
        for cell in row.cells:
            # python-docx returns a merged cell once per grid column it spans. Leaving the repeats
            # empty keeps the columns aligned with the header without repeating the text.
            cells.append("" if cell._tc is previous else collapse_spaces(cell.text))
            previous = cell._tc
        rows.append(cells)
    return rows
