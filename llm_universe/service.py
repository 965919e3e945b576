"""The application core used by every interface: knowledge bases, conversations and answering.

The CLI and the web UI each build one `Assistant` from `Settings` and call it; neither talks to
Chroma, SQLite or a provider directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from llm_universe.chains.qa import AnswerResult, answer_question
from llm_universe.config import Settings
from llm_universe.conversations import ConversationStore
from llm_universe.errors import LLMUniverseError
from llm_universe.knowledge_base.manager import KnowledgeBaseManager
from llm_universe.llms.registry import resolve_target

logger = logging.getLogger(__name__)


class Assistant:
    """Knowledge bases plus conversations plus the answering chain, for one data root."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.knowledge_bases = KnowledgeBaseManager(settings)
        self.conversations = ConversationStore(self.knowledge_bases.db)

    def ask(
        self, question: str, kb_names: list[str], *, provider: str | None = None, model: str | None = None,
        api_key: str | None = None, history: list[dict] | None = None, lang: str = "zh",
        temperature: float | None = None,
    ) -> Iterator[str | AnswerResult]:
        """Stream an answer without storing it: text deltas, then the AnswerResult."""
        question = (question or "").strip()
        if not question:
            raise LLMUniverseError("error.empty_question")
        if not kb_names:
            raise LLMUniverseError("error.no_kb_selected")
        target = resolve_target(self.settings, provider=provider, model=model, api_key=api_key,
                                temperature=temperature)
        yield from answer_question(self.settings, self.knowledge_bases, question, kb_names,
                                   history=history, target=target, lang=lang)

    def chat(
        self, session_id: str, conversation_id: str, question: str, kb_names: list[str], *,
        provider: str | None = None, model: str | None = None, api_key: str | None = None, lang: str = "zh",
        temperature: float | None = None,
    ) -> Iterator[str | AnswerResult]:
        """Answer within a stored conversation: history is read from it and both turns are written to it.

        Both turns are stored once the answer has finished, was cut off midway, or the caller stopped
        reading (closed the generator, e.g. a stop button); the last two are marked 'incomplete'. So the
        stored history never holds a question without its reply. A provider failure before any text,
        or a stop before any text, leaves the conversation unchanged.
        """
        history = [{"role": m.role, "content": m.content}
                   for m in self.conversations.messages(conversation_id, session_id)]
        result: AnswerResult | None = None
        parts: list[str] = []
        try:
            for event in self.ask(question, kb_names, provider=provider, model=model, api_key=api_key,
                                  history=history, lang=lang, temperature=temperature):
                if isinstance(event, AnswerResult):
                    result = event
                else:
                    parts.append(event)
                yield event
        except GeneratorExit:
            if parts:
                self._store_turns(conversation_id, session_id, question, "".join(parts), [], "incomplete",
                                  provider, model)
                logger.info("answer stopped by the user in conversation %s", conversation_id)
            raise
        assert result is not None
        if result.status == "failed":
            return
        status = "complete" if result.status == "complete" else "incomplete"
        self._store_turns(conversation_id, session_id, question, result.answer,
                          [source.to_dict() for source in result.sources], status, result.provider, result.model)

    def _store_turns(self, conversation_id: str, session_id: str, question: str, answer: str, sources: list[dict],
                     status: str, provider: str | None, model: str | None) -> None:
        self.conversations.add_message(conversation_id, session_id, "user", question.strip())
        self.conversations.add_message(conversation_id, session_id, "assistant", answer, sources=sources,
                                       status=status, provider=provider, model=model)
