"""Token budget: make the system prompt, sources, history and question fit the model's context window.

Token counts are an offline estimate, because exact tokenizers either differ per provider or
download their vocabularies at run time: each CJK character (and full-width punctuation) counts as
one token, other text as one token per four characters, plus four tokens per message. Tokenizers of
current Chinese-capable models (GPT-4o, GLM-4, Qwen, ERNIE) use fewer tokens per CJK character than
that, but older ones use more, so only SAFETY_MARGIN of the window is planned for.

When everything does not fit, the lowest-ranked sources are dropped first (the top source is cut
rather than dropped), and the oldest history turns are replaced by a one-line summary of the
questions asked in them, then dropped.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from llm_universe.chains.prompts import HISTORY_SUMMARY_ZH
from llm_universe.config import Settings
from llm_universe.errors import LLMUniverseError
from llm_universe.llms.registry import ChatTarget

CJK = re.compile(r"[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
MESSAGE_OVERHEAD = 4
SAFETY_MARGIN = 0.85
DEFAULT_CONTEXT_WINDOW = 8192
# When sources and history do not both fit, history keeps at most this share of the space left.
HISTORY_SHARE = 0.3
SUMMARY_QUESTION_CHARS = 60
MODEL_SIZE_SUFFIX = re.compile(r"(\d+)k\b", re.IGNORECASE)


class PromptTooLong(LLMUniverseError):
    """The question alone does not fit the model's context window."""

    key = "error.prompt_too_long"


class HasText(Protocol):
    """Anything with a `text` attribute (sources)."""

    text: str


SourceT = TypeVar("SourceT", bound=HasText)


@dataclass
class PromptBudget:
    """The fitted prompt parts: kept sources (the last one possibly cut), kept history, a summary of dropped turns, token counts."""

    sources: list
    history: list[dict]
    summary: str | None
    tokens: dict[str, int] = field(default_factory=dict)
    dropped_sources: int = 0
    truncated_source: bool = False
    dropped_history: int = 0

    def to_dict(self) -> dict:
        """Return the figures shown in the retrieval trace."""
        return {**self.tokens, "dropped_sources": self.dropped_sources, "truncated_source": self.truncated_source,
                "dropped_history_messages": self.dropped_history, "history_summarised": self.summary is not None}


def estimate_tokens(text: str) -> int:
    """Return the estimated token count of `text`: CJK characters count 1, other characters 1/4 each (rounded up)."""
    cjk = len(CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def message_tokens(text: str) -> int:
    """Return the estimated tokens of one chat message with `text`, including its role overhead."""
    return estimate_tokens(text) + MESSAGE_OVERHEAD


def context_window(target: ChatTarget | None, settings: Settings) -> int:
    """Return the context window in tokens: LLM_UNIVERSE_CONTEXT_WINDOW, else LLAMA_CPP_N_CTX, else a size
    in the model name ("ernie-speed-128k" means 128 × 1024), else the provider's default."""
    if settings.context_window:
        return settings.context_window
    if target is None:
        return DEFAULT_CONTEXT_WINDOW
    n_ctx = target.options.get("LLAMA_CPP_N_CTX")
    if n_ctx and n_ctx.isdigit():
        return int(n_ctx)
    match = MODEL_SIZE_SUFFIX.search(target.model or "")
    if match:
        return int(match.group(1)) * 1024
    return target.spec.context_window


def fit_prompt(instructions: str, question: str, history: list[dict], sources: list[SourceT],
               source_block, window: int, answer_tokens: int) -> PromptBudget:
    """Return the sources and history that fit `window` tokens next to `instructions`, `question` and the answer.

    `sources` are in rank order; `source_block(source)` returns the text a source takes in the prompt.
    `answer_tokens` is kept free for the reply (capped at a quarter of the window). Raises
    PromptTooLong when the instructions and the question alone leave no room.
    """
    reserve = min(answer_tokens, window // 4)
    fixed = message_tokens(instructions) + message_tokens(question)
    available = int(window * SAFETY_MARGIN) - reserve - fixed
    if available < 0:
        raise PromptTooLong(tokens=fixed, window=window)

    history_tokens = sum(message_tokens(str(turn.get("content", ""))) for turn in history)
    source_tokens = [estimate_tokens(source_block(source)) + 2 for source in sources]
    if history_tokens + sum(source_tokens) <= available:
        used = history_tokens + sum(source_tokens)
        return PromptBudget(list(sources), list(history), None,
                            _tokens(fixed, sum(source_tokens), history_tokens, window, reserve, used))

    for_sources = available - min(history_tokens, int(available * HISTORY_SHARE))
    kept_sources, truncated, used_by_sources = _fit_sources(sources, source_tokens, for_sources, source_block)
    kept_history, summary, used_by_history = _fit_history(history, available - used_by_sources)
    budget = PromptBudget(kept_sources, kept_history, summary,
                          _tokens(fixed, used_by_sources, used_by_history, window, reserve,
                                  used_by_sources + used_by_history))
    budget.dropped_sources = len(sources) - len(kept_sources)
    budget.truncated_source = truncated
    budget.dropped_history = len(history) - len(kept_history)
    return budget


def _fit_sources(sources: list[SourceT], costs: list[int], budget: int, source_block) -> tuple[list, bool, int]:
    """Keep sources in rank order while they fit; cut the top source's text when even it does not fit."""
    kept: list = []
    used = 0
    for source, cost in zip(sources, costs):
        if used + cost <= budget:
            kept.append(source)
            used += cost
            continue
        if not kept and budget > 0:
            cut = _truncate(source, budget, source_block)
            if cut is not None:
                kept.append(cut)
                used += estimate_tokens(source_block(cut)) + 2
                return kept, True, used
        break
    return kept, False, used


def _truncate(source: SourceT, budget: int, source_block) -> SourceT | None:
    """Return a copy of `source` with its text cut to fit `budget` tokens, or None when nothing fits."""
    overhead = estimate_tokens(source_block(dataclasses.replace(source, text=""))) + 2
    room = budget - overhead
    if room <= 0:
        return None
    text = source.text
    low, high = 0, len(text)
    while low < high:  # longest prefix whose estimate fits
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    return dataclasses.replace(source, text=text[:low] + "…") if low else None


def _fit_history(history: list[dict], budget: int) -> tuple[list[dict], str | None, int]:
    """Keep the newest turns that fit; summarise the dropped user questions in one line when that fits too."""
    kept: list[dict] = []
    used = 0
    for turn in reversed(history):
        cost = message_tokens(str(turn.get("content", "")))
        if used + cost > budget:
            break
        kept.insert(0, turn)
        used += cost
    if kept and kept[0].get("role") == "assistant":  # a reply without its question confuses the model
        used -= message_tokens(str(kept.pop(0).get("content", "")))
    dropped = history[:len(history) - len(kept)]
    questions = [" ".join(str(turn.get("content", "")).split())[:SUMMARY_QUESTION_CHARS]
                 for turn in dropped if turn.get("role") == "user"]
    if not questions:
        return kept, None, used
    summary = HISTORY_SUMMARY_ZH.format(questions="；".join(questions))
    while questions and used + message_tokens(summary) > budget:
        questions.pop(0)
        summary = HISTORY_SUMMARY_ZH.format(questions="；".join(questions))
    if not questions:
        return kept, None, used
    return kept, summary, used + message_tokens(summary)


def _tokens(fixed: int, sources: int, history: int, window: int, reserve: int, used: int) -> dict[str, int]:
    return {"context_window": window, "reserved_for_answer": reserve, "instructions_and_question": fixed,
            "sources": sources, "history": history, "prompt": fixed + used}
