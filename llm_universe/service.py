"""The application core used by every interface: knowledge bases, conversations, answering and feedback.

The CLI and the web UI each build one `Assistant` from `Settings` and call it; neither talks to
Chroma, SQLite or a provider directly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from llm_universe.chains.qa import AnswerResult, answer_policy, answer_question
from llm_universe.config import Settings
from llm_universe.conversations import ConversationStore, Message
from llm_universe.errors import LLMUniverseError
from llm_universe.feedback import AnswerRecord, Correction, Feedback, FeedbackStore
from llm_universe.knowledge_base.manager import KnowledgeBase, KnowledgeBaseManager
from llm_universe.llms.registry import resolve_target

logger = logging.getLogger(__name__)


class Assistant:
    """Knowledge bases plus conversations plus the answering chain plus feedback, for one data root."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.knowledge_bases = KnowledgeBaseManager(settings)
        self.conversations = ConversationStore(self.knowledge_bases.db)
        self.feedback_store = FeedbackStore(self.knowledge_bases.db, self.knowledge_bases)

    def ask(
        self, question: str, kb_names: list[str], *, provider: str | None = None, model: str | None = None,
        api_key: str | None = None, history: list[dict] | None = None, lang: str = "zh",
        temperature: float | None = None, retrieval_question: str | None = None,
    ) -> Iterator[str | AnswerResult]:
        """Stream an answer without storing it: text deltas, then the AnswerResult.

        `retrieval_question` skips the condense step and retrieves with this text instead (the
        user edited 「检索用问题」); the answer still addresses `question`.
        """
        question = (question or "").strip()
        if not question:
            raise LLMUniverseError("error.empty_question")
        if not kb_names:
            raise LLMUniverseError("error.no_kb_selected")
        target = resolve_target(self.settings, provider=provider, model=model, api_key=api_key,
                                temperature=temperature)
        yield from answer_question(self.settings, self.knowledge_bases, question, kb_names, history=history,
                                   target=target, lang=lang, retrieval_question=retrieval_question)

    def chat(
        self, session_id: str, conversation_id: str, question: str, kb_names: list[str], *,
        provider: str | None = None, model: str | None = None, api_key: str | None = None, lang: str = "zh",
        temperature: float | None = None, retrieval_question: str | None = None,
    ) -> Iterator[str | AnswerResult]:
        """Answer within a stored conversation: history is read from it and both turns are written to it.

        Both turns are stored once the answer has finished, was cut off midway, or the caller stopped
        reading (closed the generator, e.g. a stop button); the last two are marked 'incomplete'. So the
        stored history never contains a question without its reply. A provider failure before any text,
        or a stop before any text, leaves the conversation unchanged. The turns are stored before the
        AnswerResult is yielded, so its `message_id` (the stored reply) is set for feedback calls.
        """
        history = _history(self.conversations.messages(conversation_id, session_id))
        events = self.ask(question, kb_names, provider=provider, model=model, api_key=api_key, history=history,
                          lang=lang, temperature=temperature, retrieval_question=retrieval_question)
        yield from self._answer_and_store(events, conversation_id, session_id, question, kb_names, provider, model,
                                          reply_id=None)

    def rerun(
        self, session_id: str, conversation_id: str, retrieval_question: str, kb_names: list[str], *,
        provider: str | None = None, model: str | None = None, api_key: str | None = None, lang: str = "zh",
        temperature: float | None = None,
    ) -> Iterator[str | AnswerResult]:
        """Answer the conversation's last question again, retrieving with an edited `retrieval_question`.

        The new reply replaces the stored reply of that question (its old rating stays stored but is
        detached from the message). Streams like `chat`. Raises LLMUniverseError when the
        conversation has no question yet, and ConversationNotFound for another session's conversation.
        """
        messages = self.conversations.messages(conversation_id, session_id)
        position = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
        if position is None:
            raise LLMUniverseError("error.nothing_to_rerun")
        question = messages[position].content
        reply = messages[position + 1] if position + 1 < len(messages) else None
        events = self.ask(question, kb_names, provider=provider, model=model, api_key=api_key,
                          history=_history(messages[:position]), lang=lang, temperature=temperature,
                          retrieval_question=retrieval_question)
        yield from self._answer_and_store(events, conversation_id, session_id, question, kb_names, provider, model,
                                          reply_id=reply.id if reply is not None else -1)

    # Feedback and corrections -----------------------------------------------------------------

    def feedback(self, session_id: str, message_id: int, rating: int, comment: str | None = None) -> Feedback:
        """Store 👍 (1) or 👎 (-1) for a stored reply of this session; rating it again replaces the rating.

        Raises ConversationNotFound for another session's message, LLMUniverseError for an unknown
        message and FeedbackError for another rating value.
        """
        return self.feedback_store.rate(self._answer_record(session_id, message_id), rating, comment)

    def correct(self, session_id: str, message_id: int, corrected_answer: str, kb_name: str | None = None) -> Correction:
        """Store a corrected answer for a stored reply and add it to a knowledge base as a user correction.

        `kb_name` defaults to the knowledge base of the reply's first source, else the first one
        asked. Asking the same question again retrieves the correction first and labels it.
        """
        return self.feedback_store.correct(self._answer_record(session_id, message_id), corrected_answer, kb_name)

    def delete_correction(self, correction_id: int) -> None:
        """Remove a user correction from its knowledge base."""
        self.feedback_store.delete_correction(correction_id)

    def message_details(self, session_id: str, message_id: int) -> dict:
        """Return what was stored about a reply beyond its text: retrieval question, label, gate verdict, policy,
        knowledge bases and the feedback given ({} for a reply stored by an older version)."""
        message, _ = self._find_message(session_id, message_id)
        details = self._details(message.id)
        rated = self.feedback_store.for_message(message.id)
        details["feedback"] = rated.to_dict() if rated else None
        return details

    def answer_policy(self, kb_name: str) -> str:
        """Return the answer policy in force for a knowledge base ('strict', 'balanced' or 'open')."""
        return answer_policy(self.knowledge_bases, [kb_name], self.settings)

    def set_answer_policy(self, kb_name: str, policy: str | None) -> KnowledgeBase:
        """Set a knowledge base's answer policy; None returns it to LLM_UNIVERSE_ANSWER_POLICY."""
        return self.knowledge_bases.set_answer_policy(kb_name, policy)

    def bad_cases(self, kb_name: str | None = None) -> list[dict]:
        """Return the 👎 and corrected turns as QA-set items (see `FeedbackStore.bad_cases`)."""
        return self.feedback_store.bad_cases(kb_name)

    # Storage helpers --------------------------------------------------------------------------

    def _answer_and_store(self, events: Iterator[str | AnswerResult], conversation_id: str, session_id: str,
                          question: str, kb_names: list[str], provider: str | None, model: str | None,
                          reply_id: int | None) -> Iterator[str | AnswerResult]:
        """Pass `events` through; store the turn (a new pair, or a replaced reply when `reply_id` is set) at its end."""
        parts: list[str] = []
        stored = False
        try:
            for event in events:
                if isinstance(event, AnswerResult):
                    if event.status != "failed":
                        status = "complete" if event.status == "complete" else "incomplete"
                        event.message_id = self._store(conversation_id, session_id, question, event.answer,
                                                       [source.to_dict() for source in event.sources], status,
                                                       event.provider, event.model, _details(event, kb_names), reply_id)
                    stored = True
                    yield event
                    return
                parts.append(event)
                yield event
        except GeneratorExit:
            if parts and not stored:
                self._store(conversation_id, session_id, question, "".join(parts), [], "incomplete", provider, model,
                            {"knowledge_bases": kb_names}, reply_id)
                logger.info("answer stopped by the user in conversation %s", conversation_id)
            raise

    def _store(self, conversation_id: str, session_id: str, question: str, answer: str, sources: list[dict],
               status: str, provider: str | None, model: str | None, details: dict, reply_id: int | None) -> int:
        """Write the turn and return the reply's message id; `reply_id` -1 adds a reply to the last question."""
        if reply_id is None:
            self.conversations.add_message(conversation_id, session_id, "user", question.strip())
        if reply_id is None or reply_id == -1:
            message_id = self.conversations.add_message(conversation_id, session_id, "assistant", answer,
                                                        sources=sources, status=status, provider=provider, model=model)
        else:
            message_id = reply_id
            with self.knowledge_bases.db.connect() as connection:
                connection.execute("UPDATE messages SET content = ?, sources = ?, status = ?, provider = ?, model = ?"
                                   " WHERE id = ?", (answer, json.dumps(sources, ensure_ascii=False), status,
                                                     provider, model, message_id))
                connection.execute("UPDATE feedback SET message_id = NULL WHERE message_id = ?", (message_id,))
        with self.knowledge_bases.db.connect() as connection:
            connection.execute("UPDATE messages SET details = ? WHERE id = ?",
                               (json.dumps(details, ensure_ascii=False), message_id))
        return message_id

    def _find_message(self, session_id: str, message_id: int) -> tuple[Message, list[Message]]:
        """Return a stored message of this session and the messages of its conversation."""
        with self.knowledge_bases.db.connect() as connection:
            row = connection.execute("SELECT conversation_id FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise LLMUniverseError("error.message_not_found", id=message_id)
        messages = self.conversations.messages(row["conversation_id"], session_id)
        message = next(message for message in messages if message.id == message_id)
        return message, messages

    def _answer_record(self, session_id: str, message_id: int) -> AnswerRecord:
        """Return the reply `message_id`, its question and the history before it, as feedback stores them."""
        message, messages = self._find_message(session_id, message_id)
        if message.role != "assistant":
            raise LLMUniverseError("error.message_not_found", id=message_id)
        position = messages.index(message)
        question_at = next((i for i in range(position - 1, -1, -1) if messages[i].role == "user"), None)
        question = messages[question_at].content if question_at is not None else ""
        details = self._details(message_id)
        return AnswerRecord(question=question, answer=message.content, sources=message.sources,
                            knowledge_bases=list(details.get("knowledge_bases") or []),
                            retrieval_question=details.get("retrieval_question"),
                            history=_history(messages[:question_at or 0]), message_id=message_id,
                            session_id=session_id)

    def _details(self, message_id: int) -> dict:
        with self.knowledge_bases.db.connect() as connection:
            row = connection.execute("SELECT details FROM messages WHERE id = ?", (message_id,)).fetchone()
        return json.loads(row["details"] or "{}") if row else {}


def _history(messages: list[Message]) -> list[dict]:
    return [{"role": message.role, "content": message.content} for message in messages]


def _details(result: AnswerResult, kb_names: list[str]) -> dict:
    return {"retrieval_question": result.rewritten_question, "rewrite_method": result.rewrite_method,
            "label": result.label, "in_knowledge_base": result.in_knowledge_base, "policy": result.policy,
            "used_correction": result.used_correction, "knowledge_bases": list(kb_names)}
