"""The lexical (BM25) index of a knowledge base, over jieba tokens.

Tokens of every chunk are stored in SQLite next to the file registry, keyed by chunk id and file id,
so removing a file removes its lexical entries in the same place as its registry row. The BM25
model is built in memory on the first query and rebuilt when the stored chunks change (also when
another process wrote them).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass

from llm_universe.db import Database

logger = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"\w", re.UNICODE)
# Function words and question words that match almost every Chinese chunk and only add noise to BM25.
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 都 就 而 吗 呢 吧 啊 之 其 这 那 这个 那个 什么 怎么 怎样 如何 为什么 哪 哪些 哪个 谁 多少 几 "
    "有 有没有 是否 请问 一个 一种 可以 能 会 要 我 你 他 她 它 我们 你们 他们 the a an of to in is are what how why".split()
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS lexical_chunks (
    chunk_id TEXT NOT NULL,
    kb_id TEXT NOT NULL,
    file_id INTEGER NOT NULL,
    ingest_id TEXT NOT NULL,
    tokens TEXT NOT NULL,
    PRIMARY KEY (kb_id, chunk_id)
);
CREATE INDEX IF NOT EXISTS lexical_by_file ON lexical_chunks (kb_id, file_id, ingest_id);
"""

_jieba_lock = threading.Lock()
_jieba_ready = False


def tokenize(text: str) -> list[str]:
    """Split text into lower-case search tokens with jieba's search mode, dropping punctuation and spaces."""
    global _jieba_ready
    import jieba

    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba_ready = True
    tokens = (token.lower() for token in jieba.cut_for_search(text))
    return [token for token in tokens if TOKEN_PATTERN.search(token) and token not in STOPWORDS]


@dataclass(frozen=True)
class LexicalHit:
    """A chunk found by BM25 and its score (not comparable with cosine scores)."""

    chunk_id: str
    score: float


class LexicalIndex:
    """Store chunk tokens for one knowledge base and run BM25 queries over them."""

    _cache: dict[tuple[str, str], tuple[tuple, object, list[str]]] = {}
    _cache_lock = threading.Lock()

    def __init__(self, db: Database, kb_id: str, hidden_ingests: frozenset[str] = frozenset()) -> None:
        self.db = db
        self.kb_id = kb_id
        # Ingestions still being written: their chunks are left out of search results.
        self.hidden_ingests = hidden_ingests
        with db.connect() as connection:
            connection.executescript(SCHEMA)

    def add(self, chunk_ids: list[str], texts: list[str], file_id: int, ingest_id: str) -> None:
        """Store the tokens of chunks written by one ingestion of a file (replacing chunks with the same ids)."""
        rows = [(cid, self.kb_id, file_id, ingest_id, json.dumps(tokenize(text), ensure_ascii=False))
                for cid, text in zip(chunk_ids, texts)]
        with self.db.connect() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO lexical_chunks (chunk_id, kb_id, file_id, ingest_id, tokens)"
                " VALUES (?, ?, ?, ?, ?)", rows)

    def delete_file(self, file_id: int, ingest_id: str | None = None, keep_ingest: str | None = None) -> None:
        """Delete a file's entries: all of them, only those of `ingest_id`, or all but those of `keep_ingest`."""
        query = "DELETE FROM lexical_chunks WHERE kb_id = ? AND file_id = ?"
        params: list[object] = [self.kb_id, file_id]
        if ingest_id is not None:
            query += " AND ingest_id = ?"
            params.append(ingest_id)
        if keep_ingest is not None:
            query += " AND ingest_id != ?"
            params.append(keep_ingest)
        with self.db.connect() as connection:
            connection.execute(query, params)

    def delete_all(self) -> None:
        """Delete every entry of this knowledge base."""
        with self.db.connect() as connection:
            connection.execute("DELETE FROM lexical_chunks WHERE kb_id = ?", (self.kb_id,))

    def chunk_ids(self, file_id: int | None = None) -> list[str]:
        """Return the stored chunk ids, of one file or of the whole knowledge base."""
        query, params = "SELECT chunk_id FROM lexical_chunks WHERE kb_id = ?", [self.kb_id]
        if file_id is not None:
            query += " AND file_id = ?"
            params.append(file_id)
        with self.db.connect() as connection:
            return [row[0] for row in connection.execute(query, params)]

    def search(self, query: str, k: int) -> list[LexicalHit]:
        """Return up to `k` chunks ranked by BM25 for `query`; empty when nothing matches."""
        tokens = tokenize(query)
        model, ids = self._model()
        if model is None or not tokens:
            return []
        known = [token for token in tokens if token in model.vocab_dict]
        if not known:
            return []
        depth = min(len(ids), k + self._hidden_count(ids))
        results, scores = model.retrieve([known], k=depth, show_progress=False)
        hits = [LexicalHit(chunk_id=ids[int(i)], score=float(s))
                for i, s in zip(results[0], scores[0]) if float(s) > 0 and not self._hidden(ids[int(i)])]
        return hits[:k]

    def _hidden(self, chunk_id: str) -> bool:
        parts = chunk_id.split("-")  # chunk ids have the form <file id>-<ingest id>-<n>
        return len(parts) == 3 and parts[1] in self.hidden_ingests

    def _hidden_count(self, ids: list[str]) -> int:
        return sum(1 for chunk_id in ids if self._hidden(chunk_id)) if self.hidden_ingests else 0

    def _model(self):
        """Return (BM25 model, chunk ids in index order), rebuilt when the stored chunks changed."""
        import bm25s

        with self.db.connect() as connection:
            signature = tuple(connection.execute(
                "SELECT COUNT(*), COALESCE(MAX(rowid), 0), COALESCE(SUM(rowid), 0) FROM lexical_chunks WHERE kb_id = ?",
                (self.kb_id,)).fetchone())
        key = (str(self.db.path), self.kb_id)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached and cached[0] == signature:
                return cached[1], cached[2]
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT chunk_id, tokens FROM lexical_chunks WHERE kb_id = ? ORDER BY rowid", (self.kb_id,)).fetchall()
        if not rows:
            return None, []
        model = bm25s.BM25()
        model.index([json.loads(row[1]) or [""] for row in rows], show_progress=False)
        ids = [row[0] for row in rows]
        with self._cache_lock:
            self._cache[key] = (signature, model, ids)
        return model, ids
