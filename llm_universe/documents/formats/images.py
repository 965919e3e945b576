"""OCR of pictures embedded in DOCX and PPTX files, with progress reported per picture."""

from __future__ import annotations

import logging
import time

from llm_universe.documents.formats.common import LoadContext

logger = logging.getLogger(__name__)


def recognize_images(images: list[bytes], context: LoadContext) -> list[str]:
    """Return the OCR text of each image in `images` ("" for an image without readable text).

    Images that cannot be decoded (vector EMF/WMF pictures, damaged data) or that are too small to
    hold text give "". Progress is reported as stage "ocr" after each image.
    """
    if not images:
        return []

    from llm_universe.documents import ocr

    started = time.perf_counter()
    context.report("ocr", 0, len(images))
    texts = []
    for done, data in enumerate(images, start=1):
        image = ocr.decode_image(data)
        texts.append(ocr.recognize(image).text if image is not None else "")
        context.report("ocr", done, len(images))

    found = sum(1 for text in texts if text)
    logger.info("OCR of %s: text found in %d of %d images in %.1f s", context.name, found, len(images),
                time.perf_counter() - started)
    return texts
