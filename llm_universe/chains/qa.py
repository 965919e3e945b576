"""Question answering over knowledge bases: retrieve, gate, then a streamed LLM or extractive answer.

`answer_question` is a generator: it yields text deltas (`str`) while the answer is produced and
finally one `AnswerResult`, so the CLI, the web UI and the tests consume the same stream.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from llm_universe.config import Settings
from llm_universe.embeddings.registry import get_embeddings
from llm_universe.errors import ProviderError, ProviderStreamCut
from llm_universe.i18n import translate
from llm_universe.knowledge_base.manager import KnowledgeBaseManager
from llm_universe.llms.errors import map_provider_error
from llm_universe.llms.registry import ChatTarget, get_chat_model
from llm_universe.chains.prompts import build_system_prompt

logger = logging.getLogger(__name__)

HISTORY_MESSAGES = 6
HISTORY_MESSAGE_CHARS = 2000
EXTRACTIVE_SENTENCES = 3
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|\n+")
# Expected-answer cues for the extractive answer: when the question asks "how long" or "how many",
# sentences containing a duration or a number get a bonus. (question pattern, answer pattern)
ANSWER_TYPE_CUES = [
    (re.compile(r"多久|多长时间|期限|期间|时限|何时|什么时候|哪一年|几年|几天|几个月"),
     re.compile(r"[0-9一二三四五六七八九十百千两半]+\s*(?:个)?(?:月|日|天|年|小时|分钟|周|星期)")),
    (re.compile(r"多少|几个|几种|几项|数量"), re.compile(r"[0-9一二三四五六七八九十百千万亿两]+")),
]
ANSWER_TYPE_BONUS = 0.15


@dataclass
class Source:
    """A retrieved chunk shown under an answer; `index` is the number used in citation markers [n]."""

    index: int
    source: str
    page: int | None
    chunk_id: str
    score: float
    text: str
    knowledge_base: str
    headings: str = ""

    def to_dict(self) -> dict:
        """Return the JSON shape used by `ask --json` and the conversation store."""
        return asdict(self)


@dataclass
class AnswerResult:
    """The finished answer with its sources and how it was produced."""

    answer: str
    sources: list[Source]
    provider: str
    model: str | None
    rewritten_question: str
    in_knowledge_base: bool
    status: str = "complete"
    error: ProviderError | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self, lang: str = "zh") -> dict:
        """Return the JSON shape of `ask --json`."""
        return {
            "answer": self.answer,
            "sources": [source.to_dict() for source in self.sources],
            "provider": self.provider,
            "model": self.model,
            "rewritten_question": self.rewritten_question,
            "in_knowledge_base": self.in_knowledge_base,
            "status": self.status,
            "error": self.error.message(lang) if self.error else None,
        }


def retrieve(manager: KnowledgeBaseManager, question: str, kb_names: list[str], k: int) -> list[Source]:
    """Return the top-`k` chunks for `question` across `kb_names` as numbered sources."""
    hits = manager.search(kb_names, question, k)
    return [
        Source(index=number, source=str(hit.metadata.get("source", "")), page=hit.metadata.get("page"),
               chunk_id=hit.chunk_id, score=round(hit.score, 4), text=hit.text, knowledge_base=kb.name,
               headings=str(hit.metadata.get("headings", "")))
        for number, (kb, hit) in enumerate(hits, start=1)
    ]


def answer_question(
    settings: Settings, manager: KnowledgeBaseManager, question: str, kb_names: list[str],
    history: list[dict] | None = None, target: ChatTarget | None = None, lang: str = "zh",
) -> Iterator[str | AnswerResult]:
    """Answer `question` from the knowledge bases, yielding text deltas and then the AnswerResult.

    With `target` None the answer is extractive. Provider failures do not raise: the result carries
    the typed error, status 'incomplete' when some text had already streamed, and the partial text.
    """
    started = time.perf_counter()
    sources = retrieve(manager, question, kb_names, settings.top_k)
    in_kb = bool(sources) and sources[0].score >= settings.relevance_threshold
    seconds = {"retrieve": round(time.perf_counter() - started, 3)}
    result = AnswerResult(answer="", sources=sources, provider=target.spec.id if target else "none",
                          model=target.model if target else None, rewritten_question=question,
                          in_knowledge_base=in_kb, seconds=seconds)
    if target is None:
        stream = extractive_answer(settings, question, sources if in_kb else [], lang)
    else:
        stream = llm_answer(target, question, history or [], sources, lang, result)
    parts: list[str] = []
    started = time.perf_counter()
    for delta in stream:
        parts.append(delta)
        yield delta
    result.answer = "".join(parts)
    seconds["generate"] = round(time.perf_counter() - started, 3)
    yield result


def llm_answer(target: ChatTarget, question: str, history: list[dict], sources: list[Source], lang: str,
               result: AnswerResult) -> Iterator[str]:
    """Stream the LLM's answer; on a provider failure record the typed error in `result` and stop."""
    messages = build_messages(question, history, sources, lang)
    received = False
    finished = False
    began = time.perf_counter()
    try:
        for chunk in get_chat_model(target).stream(messages):
            finished = finished or bool(chunk.response_metadata.get("finish_reason"))
            text = chunk.content if isinstance(chunk.content, str) else ""
            if text:
                received = True
                yield text
        if not finished:
            # The SDK ends quietly when the connection drops mid-stream; only the missing finish_reason tells.
            raise ProviderStreamCut()
    except Exception as error:  # noqa: BLE001 - every SDK failure is mapped below; unknown ones re-raise
        mapped = map_provider_error(error, target, received_text=received)
        if mapped is None:
            raise
        logger.warning("provider %s model %s failed after %.2fs: %s", target.spec.id, target.model,
                       time.perf_counter() - began, type(error).__name__)
        result.error = mapped
        result.status = "incomplete" if received else "failed"
        return
    logger.info("provider %s model %s answered in %.2fs", target.spec.id, target.model, time.perf_counter() - began)


def build_messages(question: str, history: list[dict], sources: list[Source], lang: str) -> list[BaseMessage]:
    """Return system prompt with numbered sources, the recent history and the question."""
    messages: list[BaseMessage] = [SystemMessage(content=build_system_prompt(sources, lang))]
    for turn in history[-HISTORY_MESSAGES:]:
        content = str(turn.get("content", ""))[:HISTORY_MESSAGE_CHARS]
        messages.append(HumanMessage(content=content) if turn.get("role") == "user" else AIMessage(content=content))
    messages.append(HumanMessage(content=question))
    return messages


def extractive_answer(settings: Settings, question: str, sources: list[Source], lang: str) -> Iterator[str]:
    """Yield an answer quoting the sentences of `sources` most relevant to `question`, labelled as extractive."""
    yield translate("answer.extractive_label", lang) + "\n\n"
    picked = pick_sentences(settings, question, sources, EXTRACTIVE_SENTENCES)
    if not picked:
        yield translate("answer.not_found", lang) + "\n\n"
    for sentence, source in picked:
        yield f"> {sentence} [{source.index}]\n\n"
    yield translate("answer.extractive_hint", lang)


def pick_sentences(settings: Settings, question: str, sources: list[Source], count: int) -> list[tuple[str, Source]]:
    """Return up to `count` (sentence, source) pairs ranked by embedding similarity plus character-bigram overlap.

    Sentences that match the expected answer type of the question (a duration, a number) get a bonus.
    """
    candidates = [(sentence, source) for source in sources for sentence in split_sentences(source.text)]
    if not candidates:
        return []
    embeddings = get_embeddings(settings.embedding_provider, settings)
    query_vector = np.asarray(embeddings.embed_query(question))
    sentence_vectors = np.asarray(embeddings.embed_documents([sentence for sentence, _ in candidates]))
    similarity = sentence_vectors @ query_vector
    question_grams = _bigrams(question)
    answer_patterns = [answer for cue, answer in ANSWER_TYPE_CUES if cue.search(question)]
    scores = [
        0.5 * float(similarity[i]) + 0.5 * _overlap(question_grams, sentence) + 0.05 * source.score
        + ANSWER_TYPE_BONUS * any(pattern.search(sentence) for pattern in answer_patterns)
        for i, (sentence, source) in enumerate(candidates)
    ]
    ranked = sorted(range(len(candidates)), key=lambda i: scores[i], reverse=True)
    picked: list[tuple[str, Source]] = []
    for i in ranked:
        if candidates[i][0] not in {sentence for sentence, _ in picked}:
            picked.append(candidates[i])
        if len(picked) == count:
            break
    return picked


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at Chinese and Western sentence ends and line breaks, dropping Markdown markers."""
    sentences = []
    for piece in SENTENCE_END.split(text):
        cleaned = re.sub(r"^[#>*\-|\s]+", "", piece).strip()
        if len(cleaned) >= 4:
            sentences.append(cleaned)
    return sentences


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"[\s\W_]+", "", text)
    return {compact[i:i + 2] for i in range(len(compact) - 1)}


def _overlap(question_grams: set[str], sentence: str) -> float:
    if not question_grams:
        return 0.0
    return len(question_grams & _bigrams(sentence)) / len(question_grams)
