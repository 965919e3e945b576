"""Feedback on answers (👍 / 👎), user corrections that become sources, and bad-case export.

Every rating or correction stores its own copy of the question, the history before it, the
retrieval question, the answer and the sources shown, so it survives the conversation being
deleted. A correction is also written into a knowledge base as a chunk ("问题：… 答案：…"), so
asking the same question again retrieves it; retrieval ranks a correction stored for the same
question first and the answer shows it as a user correction.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

from llm_universe.db import Database
from llm_universe.errors import LLMUniverseError
from llm_universe.i18n import translate
from llm_universe.knowledge_base.manager import KnowledgeBaseManager
from llm_universe.retrieval import CORRECTION_FILE_TYPE

logger = logging.getLogger(__name__)

EVIDENCE_CHARS = 30


class FeedbackError(LLMUniverseError):
    """A rating or correction was invalid (unknown message, bad rating, empty correction)."""


@dataclass(frozen=True)
class AnswerRecord:
    """The turn that feedback refers to, as the user saw it."""

    question: str
    answer: str
    sources: list[dict]
    knowledge_bases: list[str]
    retrieval_question: str | None = None
    history: list[dict] | None = None
    message_id: int | None = None
    session_id: str | None = None


@dataclass(frozen=True)
class Feedback:
    """A stored rating (1 👍, -1 👎, None when only corrected) with the turn it rates."""

    id: int
    message_id: int | None
    rating: int | None
    comment: str | None
    question: str
    answer: str
    knowledge_bases: list[str]

    def to_dict(self) -> dict:
        """Return the JSON shape used by the UI."""
        return {"id": self.id, "message_id": self.message_id, "rating": self.rating, "comment": self.comment,
                "question": self.question, "answer": self.answer, "knowledge_bases": self.knowledge_bases}


@dataclass(frozen=True)
class Correction:
    """A corrected answer stored as chunk `chunk_id` of knowledge base `knowledge_base`."""

    id: int
    feedback_id: int
    knowledge_base: str
    question: str
    answer: str
    chunk_id: str

    def to_dict(self) -> dict:
        """Return the JSON shape used by the UI."""
        return {"id": self.id, "feedback_id": self.feedback_id, "knowledge_base": self.knowledge_base,
                "question": self.question, "answer": self.answer, "chunk_id": self.chunk_id}


class FeedbackStore:
    """Store ratings and corrections; add corrections to knowledge bases; export bad cases."""

    def __init__(self, db: Database, manager: KnowledgeBaseManager) -> None:
        self.db = db
        self.manager = manager

    def rate(self, record: AnswerRecord, rating: int, comment: str | None = None) -> Feedback:
        """Store 👍 (1) or 👎 (-1) for a turn; rating a stored message again replaces its rating.

        Raises FeedbackError for another rating value.
        """
        if rating not in (1, -1):
            raise FeedbackError("error.feedback_rating", rating=rating)
        feedback_id = self._upsert(record, rating=rating, comment=(comment or "").strip() or None)
        logger.info("stored rating %d for message %s (feedback %d)", rating, record.message_id, feedback_id)
        return self.get(feedback_id)

    def correct(self, record: AnswerRecord, corrected_answer: str, kb_name: str | None = None) -> Correction:
        """Store a corrected answer for a turn and add it to a knowledge base as a retrievable chunk.

        `kb_name` defaults to the knowledge base of the first source shown, else the first one asked.
        Rates the turn 👎 unless it already has a rating. Raises FeedbackError for an empty
        correction and KnowledgeBaseNotFound for an unknown knowledge base.
        """
        answer = (corrected_answer or "").strip()
        if not answer:
            raise FeedbackError("error.correction_empty")
        kb = self.manager.get(kb_name or self._default_kb(record))
        feedback_id = self._upsert(record, rating=None, comment=None)
        with self.db.connect() as connection:
            connection.execute("UPDATE feedback SET rating = COALESCE(rating, -1) WHERE id = ?", (feedback_id,))
            cursor = connection.execute(
                "INSERT INTO corrections (feedback_id, kb_id, question, answer, chunk_id) VALUES (?, ?, ?, ?, '')",
                (feedback_id, kb.id, record.question.strip(), answer))
            correction_id = int(cursor.lastrowid)
            chunk_id = f"correction-{correction_id}-{uuid.uuid4().hex[:8]}"
            source = translate("answer.correction_source", self.manager.settings.language, id=correction_id)
            connection.execute("UPDATE corrections SET chunk_id = ?, source = ? WHERE id = ?",
                               (chunk_id, source, correction_id))
        question = (record.retrieval_question or record.question).strip()
        try:
            self.manager.add_correction_chunk(kb.name, chunk_id, correction_text(question, answer),
                                              correction_metadata(correction_id, source, question, answer))
        except BaseException:
            with self.db.connect() as connection:
                connection.execute("DELETE FROM corrections WHERE id = ?", (correction_id,))
            raise
        logger.info("stored correction %d for message %s in %s", correction_id, record.message_id, kb.name)
        return self.correction(correction_id)

    def delete_correction(self, correction_id: int) -> None:
        """Remove a correction from its knowledge base and from the store; the rating stays."""
        correction = self.correction(correction_id)
        self.manager.remove_correction_chunk(correction.knowledge_base, correction.chunk_id)
        with self.db.connect() as connection:
            connection.execute("DELETE FROM corrections WHERE id = ?", (correction_id,))

    def get(self, feedback_id: int) -> Feedback:
        """Return a stored rating; raise FeedbackError when there is none with this id."""
        with self.db.connect() as connection:
            row = connection.execute("SELECT * FROM feedback WHERE id = ?", (feedback_id,)).fetchone()
        if row is None:
            raise FeedbackError("error.feedback_not_found", id=feedback_id)
        return _feedback(row)

    def for_message(self, message_id: int) -> Feedback | None:
        """Return the rating of a stored message, or None."""
        with self.db.connect() as connection:
            row = connection.execute("SELECT * FROM feedback WHERE message_id = ?", (message_id,)).fetchone()
        return _feedback(row) if row else None

    def correction(self, correction_id: int) -> Correction:
        """Return a stored correction; raise FeedbackError when there is none with this id."""
        with self.db.connect() as connection:
            row = connection.execute(
                "SELECT corrections.*, knowledge_bases.name AS kb_name FROM corrections JOIN knowledge_bases"
                " ON knowledge_bases.id = corrections.kb_id WHERE corrections.id = ?", (correction_id,)).fetchone()
        if row is None:
            raise FeedbackError("error.correction_not_found", id=correction_id)
        return Correction(id=row["id"], feedback_id=row["feedback_id"], knowledge_base=row["kb_name"],
                          question=row["question"], answer=row["answer"], chunk_id=row["chunk_id"])

    def corrections(self, kb_name: str | None = None) -> list[Correction]:
        """Return the corrections of one knowledge base (or of all), oldest first."""
        query = "SELECT corrections.id FROM corrections JOIN knowledge_bases ON knowledge_bases.id = corrections.kb_id"
        params: tuple = ()
        if kb_name is not None:
            query += " WHERE knowledge_bases.id = ?"
            params = (self.manager.get(kb_name).id,)
        with self.db.connect() as connection:
            ids = [row[0] for row in connection.execute(query + " ORDER BY corrections.id", params)]
        return [self.correction(correction_id) for correction_id in ids]

    def bad_cases(self, kb_name: str | None = None) -> list[dict]:
        """Return the 👎 and corrected turns as QA-set items (see `llm_universe.evaluation`), oldest first.

        A corrected turn becomes an item whose source is its correction and whose evidence is the
        start of the corrected answer, so evaluating it checks that the correction is retrieved. A 👎
        without correction gets `"review": true`, the first source shown as a guess and no evidence:
        fill in `source`, `evidence` and `kind`, then remove `review`, before evaluating it.
        """
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT feedback.*, corrections.id AS correction_id, corrections.answer AS corrected,"
                " corrections.source AS correction_source, knowledge_bases.name AS correction_kb FROM feedback"
                " LEFT JOIN corrections ON corrections.feedback_id = feedback.id"
                " LEFT JOIN knowledge_bases ON knowledge_bases.id = corrections.kb_id"
                " WHERE feedback.rating = -1 OR corrections.id IS NOT NULL ORDER BY feedback.id, corrections.id"
            ).fetchall()
        items = []
        for row in rows:
            kbs = json.loads(row["knowledge_bases"])
            if kb_name is not None and kb_name not in kbs and row["correction_kb"] != kb_name:
                continue
            items.append(_bad_case(row))
        return items

    def _upsert(self, record: AnswerRecord, rating: int | None, comment: str | None) -> int:
        values = (record.session_id, json.dumps(record.knowledge_bases, ensure_ascii=False), record.question,
                  record.retrieval_question, json.dumps(record.history or [], ensure_ascii=False), record.answer,
                  json.dumps(record.sources, ensure_ascii=False))
        with self.db.connect() as connection:
            existing = None
            if record.message_id is not None:
                existing = connection.execute("SELECT id FROM feedback WHERE message_id = ?",
                                              (record.message_id,)).fetchone()
            if existing is None:
                cursor = connection.execute(
                    "INSERT INTO feedback (message_id, session_id, knowledge_bases, question, retrieval_question,"
                    " history, answer, sources, rating, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (record.message_id, *values, rating, comment))
                return int(cursor.lastrowid)
            if rating is not None:
                connection.execute(
                    "UPDATE feedback SET rating = ?, comment = COALESCE(?, comment),"
                    " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                    (rating, comment, existing["id"]))
            return int(existing["id"])

    @staticmethod
    def _default_kb(record: AnswerRecord) -> str:
        for source in record.sources:
            if source.get("knowledge_base"):
                return str(source["knowledge_base"])
        if not record.knowledge_bases:
            raise FeedbackError("error.correction_no_kb")
        return record.knowledge_bases[0]


def correction_text(question: str, answer: str) -> str:
    """Return the chunk text of a correction: the question and the corrected answer."""
    return f"问题：{question}\n答案：{answer}"


def correction_metadata(correction_id: int, source: str, question: str, answer: str) -> dict:
    """Return the chunk metadata that marks a correction (read by retrieval and the answer chain)."""
    return {
        "source": source,
        "file_type": CORRECTION_FILE_TYPE,
        "correction_id": correction_id,
        "correction_question": question,
        "correction_answer": answer,
        "chunk_index": 0,
    }


def _feedback(row) -> Feedback:
    return Feedback(id=row["id"], message_id=row["message_id"], rating=row["rating"], comment=row["comment"],
                    question=row["question"], answer=row["answer"], knowledge_bases=json.loads(row["knowledge_bases"]))


def _bad_case(row) -> dict:
    """Return one exported QA item for a feedback row (joined with its correction, if any)."""
    history = json.loads(row["history"])
    sources = json.loads(row["sources"])
    item: dict = {
        "id": f"feedback-{row['id']}" + (f"-correction-{row['correction_id']}" if row["correction_id"] else ""),
        "question": row["question"],
        "kind": "followup" if history else "factoid",
        "knowledge_bases": json.loads(row["knowledge_bases"]),
        "answer": row["answer"],
        "rating": row["rating"],
    }
    if history:
        item["history"] = history
    if row["correction_id"]:
        item["source"] = row["correction_source"]
        item["evidence"] = " ".join(row["corrected"].split())[:EVIDENCE_CHARS]
        item["correction"] = row["corrected"]
        return item
    shown = next((source for source in sources if not source.get("is_correction")), None)
    item.update({"source": shown.get("source") if shown else None, "page": shown.get("page") if shown else None,
                 "evidence": "", "review": True})
    if row["comment"]:
        item["comment"] = row["comment"]
    return item
