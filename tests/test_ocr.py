"""Tests for OCR (llm_universe.documents.ocr): accuracy on the scanned regulation, offline use, threads."""

from __future__ import annotations

import re
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import corpus_file

from llm_universe.documents import load_document, ocr

RULES = "人民检察院行政诉讼监督规则（试行）"
SCANNED_PDF = f"extra/derived/{RULES}_扫描件.pdf"
GROUND_TRUTH = f"extra/derived/{RULES}_扫描件.groundtruth.txt"
OCR_DOCX = "extra/langchain-chatchat/ocr_test.docx"


def edit_distance(source: str, target: str) -> int:
    """Return the Levenshtein distance (insertions, deletions and substitutions all cost 1)."""
    target_codes = np.array([ord(char) for char in target])
    offsets = np.arange(len(target) + 1)
    previous = offsets.copy()
    for row, char in enumerate(source, start=1):
        current = np.empty_like(previous)
        current[0] = row
        # Deletion and substitution come from the previous row, so they can be computed at once.
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (target_codes != ord(char)))
        # Insertion chains along the row: current[j] = min over k <= j of current[k] + (j - k).
        current = np.minimum.accumulate(current - offsets) + offsets
        previous = current
    return int(previous[-1])


def character_accuracy(recognized: str, truth: str) -> float:
    """Return 1 - edit distance / length of the truth, with all whitespace removed from both."""
    recognized = re.sub(r"\s", "", recognized)
    truth = re.sub(r"\s", "", truth)
    return 1 - edit_distance(recognized, truth) / len(truth)


def test_edit_distance_known_values():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "六个月") == 3
    assert edit_distance("六个月内提出", "六个月内提出") == 0
    assert edit_distance("当事人申请监督", "当事人申诉监督期限") == 3


def test_scanned_pdf_accuracy():
    calls = []

    documents = load_document(corpus_file(SCANNED_PDF), progress=lambda *args: calls.append(args))
    text = "\n".join(document.page_content for document in documents)
    accuracy = character_accuracy(text, corpus_file(GROUND_TRUTH).read_text(encoding="utf-8"))

    assert [document.metadata["page"] for document in documents] == [1, 2, 3]
    assert all(document.metadata["ocr"] for document in documents)
    assert accuracy >= 0.90, accuracy
    assert calls == [("ocr", 0, 3), ("ocr", 1, 3), ("ocr", 2, 3), ("ocr", 3, 3)]
    assert "六个月" in text
    assert all(0.8 <= document.metadata["quality"] <= 1.0 for document in documents)


def test_models_inside_wheel():
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"

    assert sorted(path.name for path in models.glob("*.onnx")) == [
        "ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    ]


def test_engine_offline(monkeypatch):
    attempts = []
    original_connect = socket.socket.connect

    def record_connect(self, address):
        attempts.append(address)
        return original_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", record_connect)
    monkeypatch.setattr(ocr, "_engine", None)  # build the engine inside this test

    result = ocr.recognize(ocr.decode_image(docx_picture()))

    assert "横向文本框" in result.text
    assert attempts == []


def test_blank_image_empty():
    result = ocr.recognize(np.full((200, 300, 3), 255, dtype=np.uint8))

    assert result.empty
    assert result.confidence == 0.0


@pytest.mark.parametrize("data", [b"not an image", b"\x89PNG\r\n\x1a\n broken"], ids=["garbage", "truncated-png"])
def test_undecodable_image_skipped(data):
    assert ocr.decode_image(data) is None


def test_tiny_image_skipped():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 200), "black").save(buffer, format="PNG")

    assert ocr.decode_image(buffer.getvalue()) is None


def test_threads_share_engine():
    image = ocr.decode_image(docx_picture())
    results: list[str] = []

    threads = [threading.Thread(target=lambda: results.append(ocr.recognize(image).text)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 2
    assert results[0] == results[1]
    assert "横向文本框" in results[0]


def docx_picture() -> bytes:
    with zipfile.ZipFile(corpus_file(OCR_DOCX)) as archive:
        return archive.read("word/media/image1.jpeg")
