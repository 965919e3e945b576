"""The sample knowledge base: openly licensed documents shipped in `data_base/knowledge_db/sample/`."""

from __future__ import annotations

import logging
from pathlib import Path

from llm_universe.config import SAMPLE_KB_DIR
from llm_universe.knowledge_base.manager import (
    SAMPLE_KB_ID,
    SAMPLE_KB_NAME,
    IngestReport,
    KnowledgeBaseManager,
    ProgressCallback,
)

logger = logging.getLogger(__name__)

MARKER_NAME = ".sample_kb_created"


def ensure_sample_kb(
    manager: KnowledgeBaseManager, progress: ProgressCallback | None = None, source_dir: Path = SAMPLE_KB_DIR
) -> IngestReport | None:
    """Create and index the sample knowledge base on the first start; return None when nothing was done.

    A marker file in the data root records that it was created once, so a user who deletes the
    sample knowledge base does not get it back at the next start.
    """
    marker = manager.settings.data_dir / MARKER_NAME
    if marker.exists() or not source_dir.is_dir():
        return None
    logger.info("indexing the sample knowledge base from %s", source_dir)
    if manager.find(SAMPLE_KB_NAME) is None:
        manager.create(SAMPLE_KB_NAME, kb_id=SAMPLE_KB_ID)
    # Without the marker, an earlier first start was interrupted: files it finished are reported unchanged.
    report = manager.ingest([source_dir], SAMPLE_KB_NAME, progress=progress)
    marker.write_text("sample knowledge base created\n", encoding="utf-8")
    logger.info("sample knowledge base ready: %d files, %d chunks", len(report.added), report.chunks)
    return report
