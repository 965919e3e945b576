"""Question answering over knowledge bases: condense, retrieve, gate, then a streamed LLM or extractive answer.

`answer_question` is a generator: it yields text deltas (`str`) while the answer is produced and
finally one `AnswerResult`, so the CLI, the web UI and the tests consume the same stream.

Steps: a follow-up question is rewritten into a standalone retrieval question (`chains/condense.py`);
hybrid retrieval finds the chunks and the relevance gate decides whether the knowledge bases hold
anything relevant (`retrieval.py`); the answer policy of the knowledge bases then picks the answer:

| policy   | gate passed                         | gate failed                                         |
|----------|-------------------------------------|-----------------------------------------------------|
| strict   | answer from the sources only        | fixed refusal plus the nearest sources, no LLM call |
| balanced | answer from the sources only        | the LLM sees the nearest sources and may still find the answer there, else it refuses |
| open     | sources first, general knowledge allowed when marked | general-knowledge answer, labelled as such |

Without an LLM the answer is extractive, or the not-found message when the gate failed. Prompts
fit the model's context window (`chains/budget.py`); citation markers that point at no source are
removed while streaming and the cited passages are located (`chains/citations.py`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from llm_universe.chains.budget import PromptBudget, context_window, estimate_tokens, fit_prompt
from llm_universe.chains.citations import CitationFilter, cited_numbers, find_highlights
from llm_universe.chains.condense import CondensedQuestion, condense_question
from llm_universe.chains.prompts import (
    GENERAL_PROMPT_ZH,
    LOW_RELEVANCE_PROMPT_ZH,
    NOT_FOUND_ZH,
    OPEN_PROMPT_ZH,
    SYSTEM_PROMPT_ZH,
    build_system_prompt,
    source_block,
)
from llm_universe.config import ANSWER_POLICIES, Settings
from llm_universe.embeddings.registry import get_embeddings
from llm_universe.errors import ProviderError, ProviderStreamCut
from llm_universe.i18n import translate
from llm_universe.knowledge_base.manager import KnowledgeBaseManager
from llm_universe.llms.errors import map_provider_error
from llm_universe.llms.registry import ChatTarget, get_chat_model
from llm_universe.retrieval import RetrievalResult, RetrievedChunk, correction_matches, hybrid_search

logger = logging.getLogger(__name__)

# History turns considered at all; the token budget then keeps as many of the newest as fit.
HISTORY_MESSAGES = 20
HISTORY_MESSAGE_CHARS = 2000
EXTRACTIVE_SENTENCES = 3
TRACE_CANDIDATES = 10
TRACE_EXCERPT_CHARS = 300
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|\n+")
# Expected-answer cues for the extractive answer: when the question asks "how long" or "how many",
# sentences containing a duration or a number get a bonus. (question pattern, answer pattern)
ANSWER_TYPE_CUES = [
    (re.compile(r"多久|多长时间|期限|期间|时限|何时|什么时候|哪一年|几年|几天|几个月"),
     re.compile(r"[0-9一二三四五六七八九十百千两半]+\s*(?:个)?(?:月|日|天|年|小时|分钟|周|星期)")),
    (re.compile(r"多少|几个|几种|几项|数量"), re.compile(r"[0-9一二三四五六七八九十百千万亿两]+")),
]
ANSWER_TYPE_BONUS = 0.15

# Answer labels: where the answer came from.
LABEL_KNOWLEDGE_BASE = "knowledge_base"
LABEL_GENERAL = "general_knowledge"
LABEL_NOT_FOUND = "not_found"
# Answer modes, chosen from the policy, the gate and whether an LLM is configured (see `answer_mode`).
MODE_EXTRACTIVE, MODE_REFUSE, MODE_GROUNDED, MODE_LOW_RELEVANCE, MODE_OPEN, MODE_GENERAL = (
    "extractive", "refuse", "grounded", "low_relevance", "open", "general")
PROMPTS = {MODE_GROUNDED: SYSTEM_PROMPT_ZH, MODE_LOW_RELEVANCE: LOW_RELEVANCE_PROMPT_ZH, MODE_OPEN: OPEN_PROMPT_ZH,
           MODE_GENERAL: GENERAL_PROMPT_ZH}


@dataclass
class Source:
    """A retrieved chunk shown under an answer; `index` is the number used in citation markers [n].

    `score` is the cosine similarity with the retrieval question; `bm25_score` and `fused_score`
    come from hybrid retrieval. `cited` tells whether the answer cites it, and `highlights` are the
    cited passages as {start, end, sentence} character spans of `text`.
    """

    index: int
    source: str
    page: int | None
    chunk_id: str
    score: float
    text: str
    knowledge_base: str
    headings: str = ""
    bm25_score: float | None = None
    fused_score: float = 0.0
    is_correction: bool = False
    cited: bool = False
    highlights: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the JSON shape used by `ask --json` and the conversation store."""
        return asdict(self)


@dataclass
class AnswerResult:
    """The finished answer with its sources and how it was produced.

    `label` is 'knowledge_base', 'general_knowledge' or 'not_found', and `in_knowledge_base` is the
    relevance gate's verdict. `rewritten_question` is the retrieval question (「检索用问题」), made
    by `rewrite_method` ('none', 'llm', 'keywords' or 'edited'). `trace` is the retrieval trace for
    the "显示检索过程" panel. `message_id` is set when the turn was stored.
    """

    answer: str
    sources: list[Source]
    provider: str
    model: str | None
    rewritten_question: str
    in_knowledge_base: bool
    status: str = "complete"
    error: ProviderError | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    label: str = LABEL_KNOWLEDGE_BASE
    policy: str = "balanced"
    rewrite_method: str = "none"
    used_correction: bool = False
    trace: dict = field(default_factory=dict)
    message_id: int | None = None

    def to_dict(self, lang: str = "zh", include_trace: bool = False) -> dict:
        """Return the JSON shape of `ask --json` (the trace only when asked for)."""
        payload = {
            "answer": self.answer,
            "sources": [source.to_dict() for source in self.sources],
            "provider": self.provider,
            "model": self.model,
            "rewritten_question": self.rewritten_question,
            "rewrite_method": self.rewrite_method,
            "in_knowledge_base": self.in_knowledge_base,
            "label": self.label,
            "policy": self.policy,
            "used_correction": self.used_correction,
            "status": self.status,
            "error": self.error.message(lang) if self.error else None,
            "seconds": self.seconds,
        }
        if include_trace:
            payload["trace"] = self.trace
        return payload


def retrieve(manager: KnowledgeBaseManager, question: str, kb_names: list[str], k: int) -> list[Source]:
    """Return the top-`k` chunks for `question` across `kb_names` (hybrid retrieval) as numbered sources."""
    return to_sources(hybrid_search(manager, kb_names, question, k=k).chunks)


def to_sources(chunks: list[RetrievedChunk]) -> list[Source]:
    """Number retrieved chunks 1…n as the sources shown under an answer."""
    return [
        Source(index=number, source=chunk.source, page=chunk.page, chunk_id=chunk.chunk_id,
               score=round(chunk.dense_score or 0.0, 4), text=chunk.text, knowledge_base=chunk.knowledge_base,
               headings=str(chunk.metadata.get("headings", "")),
               bm25_score=None if chunk.bm25_score is None else round(chunk.bm25_score, 4),
               fused_score=round(chunk.fused_score, 6), is_correction=chunk.is_correction)
        for number, chunk in enumerate(chunks, start=1)
    ]


def answer_policy(manager: KnowledgeBaseManager, kb_names: list[str], settings: Settings) -> str:
    """Return the policy for a question on `kb_names`: the strictest of their policies (default from settings)."""
    policies = [manager.get(name).answer_policy or settings.answer_policy for name in kb_names]
    return min(policies, key=ANSWER_POLICIES.index) if policies else settings.answer_policy


def answer_mode(policy: str, gate_passed: bool, target: ChatTarget | None) -> str:
    """Return how to answer (see the table in the module docstring)."""
    if target is None:
        return MODE_EXTRACTIVE if gate_passed else MODE_REFUSE
    if gate_passed:
        return MODE_OPEN if policy == "open" else MODE_GROUNDED
    return {"strict": MODE_REFUSE, "balanced": MODE_LOW_RELEVANCE, "open": MODE_GENERAL}[policy]


def answer_question(
    settings: Settings, manager: KnowledgeBaseManager, question: str, kb_names: list[str],
    history: list[dict] | None = None, target: ChatTarget | None = None, lang: str = "zh",
    retrieval_question: str | None = None,
) -> Iterator[str | AnswerResult]:
    """Answer `question` from the knowledge bases, yielding text deltas and then the AnswerResult.

    With `target` None the answer is extractive. `retrieval_question` replaces the condensed
    question (the user edited 「检索用问题」). Provider failures do not raise: the result carries the
    typed error, status 'incomplete' when some text had already streamed, and the partial text.
    """
    history = [turn for turn in (history or []) if str(turn.get("content", "")).strip()][-HISTORY_MESSAGES:]
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    edited = (retrieval_question or "").strip()
    condensed = CondensedQuestion(edited, "edited") if edited else condense_question(question, history, target)
    seconds["condense"] = _since(started)

    began = time.perf_counter()
    retrieval = hybrid_search(manager, kb_names, condensed.text, settings)
    seconds["retrieve"] = _since(began)
    policy = answer_policy(manager, kb_names, settings)
    mode = answer_mode(policy, retrieval.gate.passed, target)
    result = AnswerResult(answer="", sources=to_sources(retrieval.chunks), provider=target.spec.id if target else "none",
                          model=target.model if target else None, rewritten_question=condensed.text,
                          in_knowledge_base=retrieval.gate.passed, seconds=seconds, policy=policy,
                          rewrite_method=condensed.method)

    began = time.perf_counter()
    generation = _Generation(settings, target, mode, question, condensed, history, retrieval, result, lang)
    yield from generation.stream()
    seconds["generate"] = _since(began)
    seconds["total"] = _since(started)
    generation.finish()
    yield result


class _Generation:
    """Produce the answer text of one question in the chosen mode and fill in the result afterwards."""

    def __init__(self, settings: Settings, target: ChatTarget | None, mode: str, question: str,
                 condensed: CondensedQuestion, history: list[dict], retrieval: RetrievalResult,
                 result: AnswerResult, lang: str) -> None:
        self.settings, self.target, self.mode, self.question = settings, target, mode, question
        self.condensed, self.history, self.retrieval, self.result, self.lang = condensed, history, retrieval, result, lang
        self.parts: list[str] = []
        self.messages: list[BaseMessage] = []
        self.budget: PromptBudget | None = None
        self.filter = CitationFilter(set())

    def stream(self) -> Iterator[str]:
        """Yield the answer's text deltas, recording them."""
        for delta in self._deltas():
            if delta:
                self.parts.append(delta)
                yield delta

    def _deltas(self) -> Iterator[str]:
        sources = self.result.sources
        if self.mode == MODE_EXTRACTIVE:
            correction = self._matching_correction()
            yield from extractive_answer(self.settings, self.condensed.text, sources, self.lang, correction)
            return
        if self.mode == MODE_REFUSE:
            yield from refusal_answer(self.lang, extractive=self.target is None)
            return
        template = PROMPTS[self.mode]
        shown = [] if self.mode == MODE_GENERAL else sources
        self.messages, self.budget = build_messages(self.settings, self.target, self.question, self.condensed,
                                                    self.history, shown, template)
        if self.mode != MODE_GENERAL:
            self.result.sources = list(self.budget.sources)
        else:
            yield translate("answer.general_notice", self.lang) + "\n\n"
        self.filter = CitationFilter({source.index for source in self.budget.sources})
        for delta in llm_answer(self.target, self.messages, self.result):
            yield self.filter.feed(delta)
        yield self.filter.flush()

    def _matching_correction(self) -> RetrievedChunk | None:
        for chunk in self.retrieval.chunks:
            if chunk.is_correction and correction_matches(chunk, self.condensed.text):
                return chunk
        return None

    def finish(self) -> None:
        """Set the answer, citations, highlights, label and trace on the result."""
        result = self.result
        result.answer = "".join(self.parts)
        valid = {source.index for source in result.sources} if self.mode != MODE_GENERAL else set()
        cited = [number for number in cited_numbers(result.answer) if number in valid]
        highlights = find_highlights(result.answer, {source.index: source.text for source in result.sources})
        for source in result.sources:
            source.cited = source.index in cited
            source.highlights = [highlight.to_dict() for highlight in highlights.get(source.index, [])]
        # Only a correction stored for this same question counts; an unrelated one that happened to be cited does not.
        match = self._matching_correction()
        result.used_correction = match is not None and any(
            source.cited and source.chunk_id == match.chunk_id for source in result.sources)
        result.label = answer_label(self.mode, bool(cited), result.answer)
        result.trace = self._trace()

    def _trace(self) -> dict:
        retrieval, result = self.retrieval, self.result
        shown = {source.chunk_id: source.index for source in result.sources}
        selected = {chunk.chunk_id for chunk in retrieval.chunks}
        chunks = []
        for chunk in retrieval.candidates[:max(len(retrieval.chunks), TRACE_CANDIDATES)]:
            chunks.append({**chunk.to_dict(), "selected": chunk.chunk_id in selected,
                           "index": shown.get(chunk.chunk_id), "excerpt": chunk.text[:TRACE_EXCERPT_CHARS]})
        tokens = self.budget.to_dict() if self.budget else {}
        tokens["answer"] = estimate_tokens(result.answer)
        settings = self.settings
        return {
            "question": self.question,
            "retrieval_question": self.condensed.to_dict(self.lang),
            "retrieval": {"mode": retrieval.mode, "dense_weight": settings.dense_weight,
                          "lexical_weight": settings.lexical_weight, "rrf_k": settings.rrf_k,
                          "candidates": settings.retrieval_candidates, "mmr": settings.use_mmr, "k": settings.top_k},
            "gate": retrieval.gate.to_dict(),
            "policy": result.policy,
            "answer_mode": self.mode,
            "chunks": chunks,
            "removed_citations": sorted(set(self.filter.removed)),
            "prompt": [{"role": _role(message), "content": str(message.content)} for message in self.messages],
            "tokens": tokens,
            "seconds": {**result.seconds, **{f"retrieve_{stage}": value for stage, value in retrieval.seconds.items()}},
        }


def answer_label(mode: str, cited: bool, answer: str) -> str:
    """Return where the answer came from: the knowledge base, general knowledge, or nowhere (not found)."""
    if mode == MODE_GENERAL:
        return LABEL_GENERAL
    if mode == MODE_REFUSE:
        return LABEL_NOT_FOUND
    if mode == MODE_EXTRACTIVE:
        return LABEL_KNOWLEDGE_BASE if cited else LABEL_NOT_FOUND
    if cited:
        return LABEL_KNOWLEDGE_BASE
    if NOT_FOUND_ZH in answer or mode == MODE_LOW_RELEVANCE:
        return LABEL_NOT_FOUND
    return LABEL_GENERAL if mode == MODE_OPEN else LABEL_KNOWLEDGE_BASE


def build_messages(settings: Settings, target: ChatTarget | None, question: str, condensed: CondensedQuestion,
                   history: list[dict], sources: list[Source], template: str) -> tuple[list[BaseMessage], PromptBudget]:
    """Return the chat messages (system prompt with numbered sources, history, question) within the token budget."""
    question_text = question
    if condensed.method != "none" and condensed.text != question:
        question_text = f"{question}\n（检索用问题：{condensed.text}）"
    turns = [{"role": turn.get("role"), "content": str(turn.get("content", ""))[:HISTORY_MESSAGE_CHARS]}
             for turn in history]
    instructions = build_system_prompt([], template=template)
    budget = fit_prompt(instructions, question_text, turns, sources, source_block,
                        context_window(target, settings), settings.answer_tokens)
    messages: list[BaseMessage] = [SystemMessage(content=build_system_prompt(budget.sources, template=template))]
    if budget.summary:
        messages.append(HumanMessage(content=budget.summary))
    for turn in budget.history:
        content = turn["content"]
        messages.append(HumanMessage(content=content) if turn.get("role") == "user" else AIMessage(content=content))
    messages.append(HumanMessage(content=question_text))
    return messages, budget


def llm_answer(target: ChatTarget, messages: list[BaseMessage], result: AnswerResult) -> Iterator[str]:
    """Stream the LLM's answer; on a provider failure record the typed error in `result` and stop."""
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


def refusal_answer(lang: str, extractive: bool) -> Iterator[str]:
    """Yield the fixed not-found answer; the nearest sources stay listed under it."""
    if extractive:
        yield translate("answer.extractive_label", lang) + "\n\n"
    yield translate("answer.not_found", lang) + "\n\n"
    yield translate("answer.nearest_sources", lang)
    if extractive:
        yield "\n\n" + translate("answer.extractive_hint", lang)


def extractive_answer(settings: Settings, question: str, sources: list[Source], lang: str,
                      correction: RetrievedChunk | None = None) -> Iterator[str]:
    """Yield an answer quoting the sentences of `sources` most relevant to `question`, labelled as extractive.

    A user correction stored for the same question is quoted first, marked as such.
    """
    yield translate("answer.extractive_label", lang) + "\n\n"
    if correction is not None:
        number = next(source.index for source in sources if source.chunk_id == correction.chunk_id)
        answer = str(correction.metadata.get("correction_answer", "")).strip()
        yield f"{translate('answer.correction_prefix', lang)}{answer} [{number}]\n\n"
        sources = [source for source in sources if source.index != number]
    # Corrections stored for other questions are not evidence for this one: their "问题：…" lines would be quoted.
    sources = [source for source in sources if not source.is_correction]
    picked = pick_sentences(settings, question, sources, EXTRACTIVE_SENTENCES if correction is None else 1)
    if not picked and correction is None:
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


def _role(message: BaseMessage) -> str:
    return {"system": "system", "human": "user", "ai": "assistant"}.get(message.type, message.type)


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"[\s\W_]+", "", text)
    return {compact[i:i + 2] for i in range(len(compact) - 1)}


def _overlap(question_grams: set[str], sentence: str) -> float:
    if not question_grams:
        return 0.0
    return len(question_grams & _bigrams(sentence)) / len(question_grams)
