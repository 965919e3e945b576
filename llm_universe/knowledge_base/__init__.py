"""Knowledge bases: manifests, file registry, Chroma collections and the bundled sample."""

from llm_universe.knowledge_base.manager import (
    SAMPLE_KB_ID,
    SAMPLE_KB_NAME,
    IngestReport,
    KnowledgeBase,
    KnowledgeBaseManager,
)
from llm_universe.knowledge_base.sample import ensure_sample_kb

__all__ = [
    "SAMPLE_KB_ID",
    "SAMPLE_KB_NAME",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeBaseManager",
    "ensure_sample_kb",
]
