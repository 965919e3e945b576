"""Retrieval evaluation on a QA set: hit@k, MRR per question kind, and the relevance gate's accuracy.

A QA set is a JSON Lines file, one object per line:

    {"id": "f01", "question": "…", "history": [{"role": "user", "content": "…"}, …],
     "source": "file name" | null, "page": 3, "evidence": "short exact passage", "kind": "factoid"}

`source` null marks a question the knowledge bases cannot answer. A retrieved chunk is a hit when it
comes from the file `source` and, with all whitespace removed, contains `evidence` with its
whitespace removed. `page` is informational. Follow-up items (with `history`) are rewritten first,
as in a conversation, so the metrics include the condense step.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from llm_universe.chains.condense import condense_question
from llm_universe.config import Settings
from llm_universe.errors import LLMUniverseError
from llm_universe.knowledge_base.manager import KnowledgeBaseManager
from llm_universe.llms.registry import ChatTarget
from llm_universe.retrieval import RetrievalResult, hybrid_search

logger = logging.getLogger(__name__)

KINDS = ("factoid", "paraphrase", "keyword", "table", "multi-hop", "followup", "unanswerable", "english")
HIT_AT = (1, 3, 5)
# The calibrated threshold may wrongly refuse at most this share of answerable questions.
MAX_FALSE_REFUSALS = 0.10
WHITESPACE = re.compile(r"\s+")


class QASetError(LLMUniverseError):
    """A QA set line is not valid JSON or misses a required field."""

    key = "error.qa_invalid"


@dataclass(frozen=True)
class QAItem:
    """One question of a QA set; `source` None means the knowledge bases cannot answer it."""

    id: str
    question: str
    source: str | None
    evidence: str
    kind: str
    history: tuple[dict, ...] = ()
    page: int | None = None

    @property
    def answerable(self) -> bool:
        """Whether the question has an answer in the knowledge bases."""
        return self.source is not None


@dataclass
class QASet:
    """The items of a QA set file, and the ids of items marked `"review": true` (skipped until reviewed)."""

    items: list[QAItem]
    skipped_for_review: list[str] = field(default_factory=list)


@dataclass
class ItemResult:
    """The outcome of one item: the rank of the first hit (1-based, None for no hit) and the gate's verdict."""

    id: str
    kind: str
    answerable: bool
    question: str
    retrieval_question: str
    rank: int | None
    gate_passed: bool
    gate_score: float
    retrieved: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the JSON shape listed under `items` in the report."""
        return {"id": self.id, "kind": self.kind, "answerable": self.answerable, "question": self.question,
                "retrieval_question": self.retrieval_question, "rank": self.rank, "gate_passed": self.gate_passed,
                "gate_score": round(self.gate_score, 4), "retrieved": self.retrieved}


def load_qa(path: str | Path) -> QASet:
    """Read a QA set (JSON Lines); raise QASetError naming the line and the problem, or FileNotFoundError.

    Items with `"review": true` (exported bad cases not reviewed yet) are skipped and listed.
    """
    qa_set = QASet(items=[])
    seen: set[str] = set()
    with Path(path).open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            raw = _parse_json(line, number, str(path))
            if raw.get("review") is True:
                qa_set.skipped_for_review.append(str(raw.get("id", f"line {number}")))
                continue
            item = _parse_item(raw, number, str(path))
            if item.id in seen:
                raise QASetError(path=str(path), line=number, reason=f"duplicate id {item.id!r}")
            seen.add(item.id)
            qa_set.items.append(item)
    if qa_set.skipped_for_review:
        logger.warning("skipped %d items marked for review in %s", len(qa_set.skipped_for_review), path)
    return qa_set


def _parse_json(line: str, number: int, path: str) -> dict:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as error:
        raise QASetError(path=path, line=number, reason=f"invalid JSON ({error.msg})") from None
    if not isinstance(raw, dict):
        raise QASetError(path=path, line=number, reason="not a JSON object")
    return raw


def _parse_item(raw: dict, number: int, path: str) -> QAItem:
    for name in ("id", "question", "kind"):
        if not str(raw.get(name) or "").strip():
            raise QASetError(path=path, line=number, reason=f"missing {name!r}")
    if raw["kind"] not in KINDS:
        raise QASetError(path=path, line=number, reason=f"unknown kind {raw['kind']!r} (expected: {', '.join(KINDS)})")
    source = raw.get("source")
    evidence = str(raw.get("evidence") or "")
    if source is not None and not WHITESPACE.sub("", evidence):
        raise QASetError(path=path, line=number, reason="'evidence' is empty but 'source' is set")
    history = raw.get("history") or []
    if not isinstance(history, list) or any(not isinstance(turn, dict) or turn.get("role") not in {"user", "assistant"}
                                            for turn in history):
        raise QASetError(path=path, line=number, reason="'history' must be a list of {role, content} objects")
    page = raw.get("page")
    return QAItem(id=str(raw["id"]), question=str(raw["question"]), source=source if source is None else str(source),
                  evidence=evidence, kind=str(raw["kind"]), history=tuple(history),
                  page=int(page) if isinstance(page, (int, float)) else None)


def is_hit(item: QAItem, source: str, text: str) -> bool:
    """Return whether a chunk of file `source` with `text` answers `item` (whitespace ignored)."""
    if item.source is None or source != item.source:
        return False
    return WHITESPACE.sub("", item.evidence) in WHITESPACE.sub("", text)


def evaluate_item(manager: KnowledgeBaseManager, item: QAItem, kb_names: list[str], settings: Settings, *,
                  mode: str = "hybrid", k: int = 5, target: ChatTarget | None = None,
                  use_mmr: bool | None = None, threshold: float | None = None) -> ItemResult:
    """Condense (for follow-ups), retrieve the top `k` and record the first hit's rank and the gate."""
    condensed = condense_question(item.question, list(item.history), target)
    result = hybrid_search(manager, kb_names, condensed.text, settings, k=k, mode=mode, use_mmr=use_mmr,
                           threshold=threshold)
    return item_result(item, condensed.text, result)


def item_result(item: QAItem, retrieval_question: str, result: RetrievalResult) -> ItemResult:
    """Score one retrieval result against its QA item."""
    rank = next((position for position, chunk in enumerate(result.chunks, start=1)
                 if is_hit(item, chunk.source, chunk.text)), None)
    retrieved = [{"source": chunk.source, "page": chunk.page, "chunk_id": chunk.chunk_id,
                  "fused_score": round(chunk.fused_score, 6), "relevance": round(chunk.relevance, 4)}
                 for chunk in result.chunks]
    return ItemResult(id=item.id, kind=item.kind, answerable=item.answerable, question=item.question,
                      retrieval_question=retrieval_question, rank=rank, gate_passed=result.gate.passed,
                      gate_score=result.gate.score, retrieved=retrieved)


def evaluate(manager: KnowledgeBaseManager, items: Iterable[QAItem], kb_names: list[str],
             settings: Settings | None = None, *, mode: str = "hybrid", k: int = 5, target: ChatTarget | None = None,
             use_mmr: bool | None = None, threshold: float | None = None) -> dict:
    """Evaluate retrieval on `items` over `kb_names` and return the report (see `summarize`).

    `k` is the retrieval depth (hit@k for k above it count as hit@`k`); `target` is the LLM used to
    condense follow-ups (None: key-term carrying). Raises KnowledgeBaseNotFound for an unknown name.
    """
    settings = settings or manager.settings
    kb_names = [manager.get(name).name for name in kb_names]
    results = [evaluate_item(manager, item, kb_names, settings, mode=mode, k=k, target=target, use_mmr=use_mmr,
                             threshold=threshold) for item in items]
    report = summarize(results, settings.relevance_threshold if threshold is None else threshold)
    report["settings"] = {
        "knowledge_bases": kb_names, "mode": mode, "k": k, "mmr": settings.use_mmr if use_mmr is None else use_mmr,
        "dense_weight": settings.dense_weight, "lexical_weight": settings.lexical_weight, "rrf_k": settings.rrf_k,
        "retrieval_candidates": settings.retrieval_candidates, "condense": target.spec.id if target else "keywords",
    }
    return report


def summarize(results: list[ItemResult], threshold: float) -> dict:
    """Return hit@1/3/5 and MRR overall and per kind, gate figures, a suggested threshold and the misses.

    Retrieval metrics cover answerable items only. MRR counts 1/rank of the first hit within the
    retrieved chunks (0 when none hits). `gate` has `unanswerable_gated` (share of unanswerable items
    refused, the gate's recall of "not in the knowledge base"), `precision` (share of refusals that
    were right) and `answerable_refused` (share of answerable items wrongly refused).
    """
    answerable = [result for result in results if result.answerable]
    by_kind = {kind: _retrieval_metrics([r for r in answerable if r.kind == kind])
               for kind in KINDS if any(r.kind == kind for r in answerable)}
    for kind in by_kind:
        by_kind[kind].update(_gate_metrics([r for r in results if r.kind == kind]))
    if any(result.kind == "unanswerable" for result in results):
        by_kind["unanswerable"] = {"count": sum(r.kind == "unanswerable" for r in results),
                                   **_gate_metrics([r for r in results if r.kind == "unanswerable"])}
    return {
        "items": len(results),
        "answerable": len(answerable),
        "overall": _retrieval_metrics(answerable),
        "by_kind": by_kind,
        "gate": {"threshold": threshold, **_gate_metrics(results),
                 "suggested_threshold": suggest_threshold(results)},
        "misses": [result.id for result in answerable if result.rank is None],
        "results": [result.to_dict() for result in results],
    }


def suggest_threshold(results: list[ItemResult], max_false_refusals: float = MAX_FALSE_REFUSALS) -> float | None:
    """Return the gate threshold that refuses the most unanswerable items while wrongly refusing at most
    `max_false_refusals` of the answerable ones; None without both kinds of items.

    Candidates are midpoints between neighbouring gate scores, so the threshold sits in the gap.
    """
    answerable = sorted(r.gate_score for r in results if r.answerable)
    unanswerable = sorted(r.gate_score for r in results if not r.answerable)
    if not answerable or not unanswerable:
        return None
    scores = sorted(set(answerable + unanswerable))
    candidates = [(low + high) / 2 for low, high in zip(scores, scores[1:])] or scores
    best: tuple[float, float, float] | None = None
    for threshold in candidates:
        refused = sum(score < threshold for score in answerable) / len(answerable)
        if refused > max_false_refusals:
            continue
        gated = sum(score < threshold for score in unanswerable) / len(unanswerable)
        key = (gated - refused, -refused, threshold)
        if best is None or key > best:
            best = key
    return round(best[2], 4) if best else None


def _retrieval_metrics(results: list[ItemResult]) -> dict:
    if not results:
        return {"count": 0}
    metrics: dict[str, float | int] = {"count": len(results)}
    for k in HIT_AT:
        metrics[f"hit@{k}"] = round(sum(r.rank is not None and r.rank <= k for r in results) / len(results), 4)
    metrics["mrr"] = round(statistics.fmean(1 / r.rank if r.rank else 0.0 for r in results), 4)
    return metrics


def _gate_metrics(results: list[ItemResult]) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    refused = [r for r in results if not r.gate_passed]
    metrics: dict[str, float | None] = {}
    if unanswerable:
        metrics["unanswerable_gated"] = round(sum(not r.gate_passed for r in unanswerable) / len(unanswerable), 4)
    if answerable:
        metrics["answerable_refused"] = round(sum(not r.gate_passed for r in answerable) / len(answerable), 4)
    if answerable and unanswerable and refused:
        metrics["precision"] = round(sum(not r.answerable for r in refused) / len(refused), 4)
    return metrics
