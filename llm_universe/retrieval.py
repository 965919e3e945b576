"""Hybrid retrieval over one or several knowledge bases, and the relevance gate.

Every knowledge base is searched twice: densely with its own embedding model (Chroma, cosine) and
lexically with BM25 over jieba tokens. Cosine scores of different embedding models are not
comparable, so dense hits are merged by score only among knowledge bases that share a model. Each
model's ranking and the BM25 ranking then enter weighted reciprocal-rank fusion (RRF) as separate
lists:

    fused(chunk) = sum over lists of  weight(list) / (rrf_k + rank of chunk in list)

Maximal marginal relevance (MMR) can then pick a more varied top k. The relevance gate decides
"not in the knowledge base" before any answer is generated: it compares the best relevance score of
the selected chunks with a threshold calibrated by `python -m llm_universe eval`.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from llm_universe.config import Settings
from llm_universe.embeddings.registry import get_embeddings
from llm_universe.knowledge_base.lexical import tokenize
from llm_universe.knowledge_base.manager import KnowledgeBase, KnowledgeBaseManager

logger = logging.getLogger(__name__)

RETRIEVAL_MODES = ("hybrid", "dense", "lexical")
# BM25 scores are looked up this deep, so chunks found only by the dense search still show a BM25 score.
LEXICAL_SCORE_DEPTH = 1000
# Weight of query-term coverage in the relevance score (see `relevance_score`), chosen with bench/retrieval.py.
COVERAGE_WEIGHT = 0.7
# A user correction whose stored question has at least this character-bigram similarity (Dice) with
# the query is treated as an answer to the same question: it is ranked first and passes the gate.
CORRECTION_MATCH = 0.8
CORRECTION_FILE_TYPE = "correction"


@dataclass
class RetrievedChunk:
    """A chunk found by retrieval, with its score in each ranked list and after fusion.

    `dense_score` is the cosine similarity with the query under the knowledge base's embedding model,
    computed for every candidate. `bm25_score` is None when BM25 found no query token in the chunk.
    Ranks are 1-based positions in the dense list of the chunk's model and in the BM25 list, or None
    when the chunk is not within `retrieval_candidates` of that list.
    """

    knowledge_base: str
    chunk_id: str
    text: str
    metadata: dict
    embedding_provider: str
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    bm25_rank: int | None = None
    fused_score: float = 0.0
    relevance: float = 0.0
    vector: np.ndarray | None = field(default=None, repr=False)

    @property
    def source(self) -> str:
        """File name of the chunk, or the correction label for a user correction."""
        return str(self.metadata.get("source", ""))

    @property
    def page(self) -> int | None:
        """Page number (PDF pages), or None."""
        page = self.metadata.get("page")
        return int(page) if isinstance(page, (int, float)) else None

    @property
    def is_correction(self) -> bool:
        """Whether the chunk is a user correction rather than part of a file."""
        return self.metadata.get("file_type") == CORRECTION_FILE_TYPE

    def to_dict(self) -> dict:
        """Return the chunk's scores and identity for the retrieval trace (text excluded)."""
        return {
            "knowledge_base": self.knowledge_base,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "page": self.page,
            "is_correction": self.is_correction,
            "dense_score": _rounded(self.dense_score),
            "dense_rank": self.dense_rank,
            "bm25_score": _rounded(self.bm25_score),
            "bm25_rank": self.bm25_rank,
            "fused_score": _rounded(self.fused_score, 6),
            "relevance": _rounded(self.relevance),
        }


@dataclass(frozen=True)
class GateDecision:
    """The relevance gate's verdict: `passed` is False when the knowledge bases hold nothing relevant."""

    passed: bool
    score: float
    threshold: float
    reason: str

    def to_dict(self) -> dict:
        """Return the verdict as JSON-ready values."""
        return {"passed": self.passed, "score": round(self.score, 4), "threshold": self.threshold,
                "reason": self.reason}


@dataclass
class RetrievalResult:
    """The top-k chunks, the wider ranked candidate list they came from, and the gate's verdict."""

    query: str
    mode: str
    chunks: list[RetrievedChunk]
    candidates: list[RetrievedChunk]
    gate: GateDecision
    seconds: dict[str, float] = field(default_factory=dict)


def hybrid_search(
    manager: KnowledgeBaseManager, kb_names: Iterable[str], query: str, settings: Settings | None = None, *,
    k: int | None = None, mode: str = "hybrid", use_mmr: bool | None = None, threshold: float | None = None,
) -> RetrievalResult:
    """Return the `k` best chunks for `query` across the named knowledge bases, with the gate's verdict.

    `mode` is 'hybrid' (dense + BM25 fused by weighted RRF), 'dense' or 'lexical'. `k` (default
    `settings.top_k`), `use_mmr` (default `settings.use_mmr`) and `threshold` (default
    `settings.relevance_threshold`) override the settings. Raises KnowledgeBaseNotFound for an unknown
    name, EmbeddingMismatchError when a knowledge base's embedding model changed, and ValueError for
    an unknown mode.
    """
    if mode not in RETRIEVAL_MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; expected one of {', '.join(RETRIEVAL_MODES)}")
    settings = settings or manager.settings
    k = k or settings.top_k
    depth = max(settings.retrieval_candidates, k)
    kbs = [manager.get(name) for name in dict.fromkeys(kb_names)]
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    query_vectors = _embed_query(manager, kbs, query)
    seconds["embed"] = _since(started)

    started = time.perf_counter()
    pool: dict[tuple[str, str], RetrievedChunk] = {}
    dense_lists = _dense_lists(manager, kbs, query_vectors, depth, pool) if mode != "lexical" else {}
    seconds["dense"] = _since(started)

    started = time.perf_counter()
    lexical_list = _lexical_list(manager, kbs, query, depth, pool, query_vectors) if mode != "dense" else []
    seconds["lexical"] = _since(started)

    started = time.perf_counter()
    weights = _list_weights(settings, mode)
    for ranked in dense_lists.values():
        _add_reciprocal_ranks(ranked, pool, weights["dense"], settings.rrf_k)
    _add_reciprocal_ranks(lexical_list, pool, weights["lexical"], settings.rrf_k)
    query_tokens = set(tokenize(query))
    for chunk in pool.values():
        chunk.relevance = relevance_score(chunk, query_tokens)
    ranked = _pin_corrections(sorted(pool.values(), key=_fusion_order), query)[:depth]
    mmr = settings.use_mmr if use_mmr is None else use_mmr
    if mmr:
        _attach_vectors(manager, kbs, ranked)
    chunks = select_mmr(ranked, k, settings.mmr_lambda) if mmr else ranked[:k]
    gate = relevance_gate(chunks, settings.relevance_threshold if threshold is None else threshold, query)
    seconds["fuse"] = _since(started)

    logger.debug("retrieved %d chunks for %r from %s (gate %s)", len(chunks), query, [kb.name for kb in kbs], gate)
    return RetrievalResult(query=query, mode=mode, chunks=chunks, candidates=ranked, gate=gate, seconds=seconds)


def relevance_score(chunk: RetrievedChunk, query_tokens: set[str]) -> float:
    """Return the gate's relevance signal: cosine similarity plus a bonus for the query's terms found in the chunk.

    The bonus is COVERAGE_WEIGHT times the IDF-weighted share of the query's jieba tokens (stop
    words removed) that occur in the chunk, so a rare exact term (a name, a code) counts far more
    than a common word such as 「数据」, even where the embedding model finds the chunk only
    moderately similar. IDF values come from the table shipped with jieba (general Chinese text).
    """
    cosine = chunk.dense_score or 0.0
    if not query_tokens:
        return cosine
    idf, default = _idf_table()
    weights = {token: idf.get(token, default) for token in query_tokens}
    text = chunk.text.lower()
    covered = sum(weight for token, weight in weights.items() if _contains(text, token))
    return cosine + COVERAGE_WEIGHT * covered / sum(weights.values())


@functools.lru_cache(maxsize=1)
def _idf_table() -> tuple[dict[str, float], float]:
    """Return jieba's IDF table and its median, used for words not in it (loaded once, about 1 s)."""
    import jieba.analyse

    table = jieba.analyse.TFIDF()
    return table.idf_freq, table.median_idf


def _contains(text: str, token: str) -> bool:
    """Return whether lower-cased `text` contains `token`; a Latin-script token must match a whole word."""
    if token.isascii():
        return re.search(rf"(?<![a-z0-9]){re.escape(token)}(?![a-z0-9])", text) is not None
    return token in text


def relevance_gate(chunks: list[RetrievedChunk], threshold: float, query: str = "") -> GateDecision:
    """Return whether the best of `chunks` is relevant enough to answer from the knowledge bases.

    A user correction for the same question always passes.
    """
    if not chunks:
        return GateDecision(passed=False, score=0.0, threshold=threshold, reason="no_chunks")
    if any(chunk.is_correction and correction_matches(chunk, query) for chunk in chunks):
        return GateDecision(passed=True, score=max(chunk.relevance for chunk in chunks), threshold=threshold,
                            reason="correction")
    best = max(chunk.relevance for chunk in chunks)
    return GateDecision(passed=best >= threshold, score=best, threshold=threshold,
                        reason="above_threshold" if best >= threshold else "below_threshold")


def select_mmr(ranked: list[RetrievedChunk], k: int, lambda_mult: float) -> list[RetrievedChunk]:
    """Pick `k` chunks from `ranked` by maximal marginal relevance.

    Each step takes the chunk maximising `lambda_mult * relevance - (1 - lambda_mult) * max similarity
    to the chunks already picked`, where relevance is the fused score scaled to 0-1 and similarity is
    the cosine of the chunk vectors. Chunks embedded by different models count as dissimilar (0).
    """
    if len(ranked) <= k:
        return list(ranked)
    top = ranked[0].fused_score or 1.0
    picked: list[RetrievedChunk] = []
    remaining = list(ranked)
    while remaining and len(picked) < k:
        best = max(remaining, key=lambda chunk: lambda_mult * chunk.fused_score / top
                   - (1 - lambda_mult) * max((_similarity(chunk, other) for other in picked), default=0.0))
        picked.append(best)
        remaining.remove(best)
    return picked


def correction_matches(chunk: RetrievedChunk, query: str) -> bool:
    """Return whether `chunk` is a user correction stored for (nearly) the same question as `query`."""
    stored = str(chunk.metadata.get("correction_question", ""))
    return bool(stored) and question_similarity(stored, query) >= CORRECTION_MATCH


def question_similarity(first: str, second: str) -> float:
    """Return the Dice coefficient of the two texts' character bigrams (punctuation and spaces ignored), 0-1."""
    a, b = _bigrams(first), _bigrams(second)
    if not a or not b:
        return 1.0 if _compact(first) == _compact(second) and _compact(first) else 0.0
    return 2 * len(a & b) / (len(a) + len(b))


# Steps of hybrid_search -----------------------------------------------------------------------------


def _embed_query(manager: KnowledgeBaseManager, kbs: list[KnowledgeBase], query: str) -> dict[str, np.ndarray]:
    """Embed the query once per embedding provider used by `kbs`, after checking each KB's model."""
    vectors: dict[str, np.ndarray] = {}
    for kb in kbs:
        manager.check_embeddings(kb)
        if kb.embedding_provider not in vectors:
            embeddings = get_embeddings(kb.embedding_provider, manager.settings)
            vectors[kb.embedding_provider] = np.asarray(embeddings.embed_query(query), dtype=np.float32)
    return vectors


def _dense_lists(manager: KnowledgeBaseManager, kbs: list[KnowledgeBase], query_vectors: dict[str, np.ndarray],
                 depth: int, pool: dict[tuple[str, str], RetrievedChunk]) -> dict[str, list[tuple[str, str]]]:
    """Query each KB's collection; return one list of pool keys per embedding provider, best cosine first."""
    by_provider: dict[str, list[RetrievedChunk]] = {}
    for kb in kbs:
        vector = query_vectors[kb.embedding_provider]
        for hit in manager.index(kb).query(vector.tolist(), depth):
            chunk = RetrievedChunk(knowledge_base=kb.name, chunk_id=hit.chunk_id, text=hit.text,
                                   metadata=hit.metadata, embedding_provider=kb.embedding_provider,
                                   dense_score=float(hit.score))
            pool[(kb.name, hit.chunk_id)] = chunk
            by_provider.setdefault(kb.embedding_provider, []).append(chunk)
    lists: dict[str, list[tuple[str, str]]] = {}
    for provider, chunks in by_provider.items():
        chunks.sort(key=lambda chunk: chunk.dense_score or 0.0, reverse=True)
        for rank, chunk in enumerate(chunks[:depth], start=1):
            chunk.dense_rank = rank
        lists[provider] = [(chunk.knowledge_base, chunk.chunk_id) for chunk in chunks[:depth]]
    return lists


def _lexical_list(manager: KnowledgeBaseManager, kbs: list[KnowledgeBase], query: str, depth: int,
                  pool: dict[tuple[str, str], RetrievedChunk],
                  query_vectors: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    """Run BM25 in each KB; return the pool keys of the `depth` best BM25 hits across KBs.

    BM25 scores are recorded on every pooled chunk. Chunks found only by BM25 are fetched from
    Chroma and get their cosine similarity computed from their stored vector.
    """
    scored: list[tuple[float, KnowledgeBase, str]] = []
    for kb in kbs:
        for hit in manager.lexical(kb).search(query, LEXICAL_SCORE_DEPTH):
            scored.append((hit.score, kb, hit.chunk_id))
    scored.sort(key=lambda item: item[0], reverse=True)
    for score, kb, chunk_id in scored:
        if (kb.name, chunk_id) in pool:
            pool[(kb.name, chunk_id)].bm25_score = score
    top = scored[:depth]
    _fetch_missing(manager, [(kb, chunk_id) for _, kb, chunk_id in top if (kb.name, chunk_id) not in pool],
                   pool, query_vectors)
    ranked: list[tuple[str, str]] = []
    for score, kb, chunk_id in top:
        chunk = pool.get((kb.name, chunk_id))
        if chunk is None:  # in the BM25 index but not in Chroma: skipped rather than shown without text
            continue
        chunk.bm25_score = score
        chunk.bm25_rank = len(ranked) + 1
        ranked.append((kb.name, chunk_id))
    return ranked


def _fetch_missing(manager: KnowledgeBaseManager, missing: list[tuple[KnowledgeBase, str]],
                   pool: dict[tuple[str, str], RetrievedChunk], query_vectors: dict[str, np.ndarray]) -> None:
    """Add chunks found only by BM25 to the pool, with text, metadata and cosine similarity to the query."""
    by_kb: dict[str, tuple[KnowledgeBase, list[str]]] = {}
    for kb, chunk_id in missing:
        by_kb.setdefault(kb.id, (kb, []))[1].append(chunk_id)
    for kb, chunk_ids in by_kb.values():
        found = manager.index(kb).collection.get(ids=chunk_ids, include=["documents", "metadatas", "embeddings"])
        query_vector = query_vectors[kb.embedding_provider]
        for chunk_id, text, metadata, vector in zip(found["ids"], found["documents"], found["metadatas"],
                                                    found["embeddings"]):
            stored = np.asarray(vector, dtype=np.float32)
            pool[(kb.name, chunk_id)] = RetrievedChunk(
                knowledge_base=kb.name, chunk_id=chunk_id, text=text or "", metadata=dict(metadata or {}),
                embedding_provider=kb.embedding_provider, dense_score=_cosine(query_vector, stored), vector=stored)


def _attach_vectors(manager: KnowledgeBaseManager, kbs: list[KnowledgeBase], chunks: list[RetrievedChunk]) -> None:
    """Load the stored vectors of `chunks` that have none yet (MMR compares chunks with each other)."""
    for kb in kbs:
        wanted = {chunk.chunk_id: chunk for chunk in chunks if chunk.knowledge_base == kb.name and chunk.vector is None}
        if not wanted:
            continue
        found = manager.index(kb).collection.get(ids=list(wanted), include=["embeddings"])
        for chunk_id, vector in zip(found["ids"], found["embeddings"]):
            wanted[chunk_id].vector = np.asarray(vector, dtype=np.float32)


def _list_weights(settings: Settings, mode: str) -> dict[str, float]:
    if mode == "dense":
        return {"dense": 1.0, "lexical": 0.0}
    if mode == "lexical":
        return {"dense": 0.0, "lexical": 1.0}
    return {"dense": settings.dense_weight, "lexical": settings.lexical_weight}


def _add_reciprocal_ranks(ranked: list[tuple[str, str]], pool: dict[tuple[str, str], RetrievedChunk],
                          weight: float, rrf_k: int) -> None:
    for rank, key in enumerate(ranked, start=1):
        pool[key].fused_score += weight / (rrf_k + rank)


def _fusion_order(chunk: RetrievedChunk) -> tuple[float, float]:
    return (-chunk.fused_score, -(chunk.dense_score or 0.0))


def _pin_corrections(ranked: list[RetrievedChunk], query: str) -> list[RetrievedChunk]:
    """Move user corrections stored for the same question to the front, most similar first."""
    pinned = [chunk for chunk in ranked if chunk.is_correction and correction_matches(chunk, query)]
    if not pinned:
        return ranked
    pinned.sort(key=lambda chunk: question_similarity(str(chunk.metadata.get("correction_question", "")), query),
                reverse=True)
    return pinned + [chunk for chunk in ranked if chunk not in pinned]


def _similarity(first: RetrievedChunk, second: RetrievedChunk) -> float:
    if first.embedding_provider != second.embedding_provider or first.vector is None or second.vector is None:
        return 0.0
    return _cosine(first.vector, second.vector)


def _cosine(first: np.ndarray, second: np.ndarray) -> float:
    norm = float(np.linalg.norm(first) * np.linalg.norm(second))
    return float(first @ second) / norm if norm else 0.0


def _compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _bigrams(text: str) -> set[str]:
    compact = _compact(text)
    return {compact[i:i + 2] for i in range(len(compact) - 1)}


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)
