"""Rewrite a follow-up question into a standalone retrieval question (shown to the user as 「检索用问题」).

A follow-up such as 「那它的缺点呢？」 names nothing that retrieval could match. When the conversation
has earlier turns and the question looks like a follow-up, it is rewritten before retrieval:

- with an LLM, by a Chinese condense prompt that resolves pronouns and omitted subjects;
- without one (or when the LLM fails or returns something unusable), by carrying the key terms of
  the last self-contained user question into the new one.

Self-contained questions are never rewritten, so they cost no LLM call.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from langchain_core.messages import HumanMessage

from llm_universe.errors import ProviderError
from llm_universe.knowledge_base.lexical import STOPWORDS
from llm_universe.llms.errors import map_provider_error
from llm_universe.llms.registry import ChatTarget, get_chat_model

logger = logging.getLogger(__name__)

CONDENSE_PROMPT_ZH = """下面是一段对话和用户的最新问题。最新问题可能省略了主语，或用“它”“这个”“那”等代词指代前文提到的内容。
请把最新问题改写成一个脱离对话也能看懂的完整问题：补全被省略或被指代的对象，保留原问题的意思、语言和专有名词。不要回答问题。
只输出改写后的问题本身。

对话：
{history}

最新问题：{question}
改写后的问题："""

HISTORY_TURNS = 6
HISTORY_TURN_CHARS = 300
MAX_CARRIED_TERMS = 6
# A rewrite longer than this many times the question plus the carried context is treated as an answer, not a question.
MAX_REWRITE_GROWTH = 4

# Whole jieba tokens that refer back to something mentioned earlier.
PRONOUNS = frozenset(
    "它 它们 他 她 他们 她们 其 其中 该 此 这 那 这个 那个 这些 那些 这种 那种 这样 上述 前者 后者 该方法 这个方法 这种方法 "
    "it its they them their this that these those".split()
)
# Chinese pronouns that stand for the thing asked about and can be replaced by its name (not the opener 「那」).
REFERRING_PRONOUNS = frozenset(
    "它 它们 他 她 他们 她们 其 其中 该 此 这 这个 那个 这些 那些 这种 那种 上述 前者 后者 该方法 这个方法 这种方法".split()
)
DEMONSTRATIVES = frozenset("这 那 该 此".split())
CLASSIFIERS = frozenset("个种本篇条位款项件门类套部")
FOLLOWUP_OPENERS = ("那", "那么", "还有", "另外", "and ", "what about", "how about")
# Question words and aspect words ("缺点", "区别") name what is asked about, not which thing, so they are not carried.
NON_TERMS = STOPWORDS | frozenset(
    "什么 怎么 怎样 如何 为什么 为何 哪些 哪个 哪里 多少 多久 多长 是否 吗 呢 吧 请问 请 介绍 一下 说说 讲讲 解释 告诉 "
    "具体 主要 分别 还 又 再 呢 优点 缺点 优势 劣势 好处 坏处 区别 不同 异同 作用 用途 定义 含义 意思 原理 步骤 特点 例子 "
    "举例 应用 场景 局限 局限性 有没有 能否 需要 应该 用 使用 属于 包括 包含 叫 叫做 称为 一共 总共 大概 大约 通常 一般 "
    "does do did can could should would which who when where "
    "about tell me explain describe".split()
)
# jieba joins question words with what follows (「哪几种」「几章」「多少个」): such words are not terms.
QUESTION_WORD = re.compile(r"^(?:哪|几|多少|多久|什么|怎么|为何)")
ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.+\-]*|\d+(?:\.\d+)?")


@dataclass(frozen=True)
class CondensedQuestion:
    """The retrieval question and how it was made.

    `method` is 'none' (used as asked), 'llm', 'keywords' (key terms carried from an earlier turn) or
    'edited' (typed by the user). `error` is the provider failure that made an LLM rewrite fall back.
    """

    text: str
    method: str
    seconds: float = 0.0
    error: ProviderError | None = None

    def to_dict(self, lang: str = "zh") -> dict:
        """Return the JSON shape used in the retrieval trace."""
        return {"text": self.text, "method": self.method, "seconds": round(self.seconds, 3),
                "error": self.error.message(lang) if self.error else None}


def condense_question(question: str, history: list[dict] | None, target: ChatTarget | None = None) -> CondensedQuestion:
    """Return the standalone retrieval question for `question` asked after `history`.

    `history` is a list of {"role": "user"|"assistant", "content": str}, oldest first. Nothing is
    rewritten without earlier user turns or when the question does not look like a follow-up. With
    `target` the LLM rewrites it; a provider failure or an unusable rewrite falls back to carrying
    key terms, so provider errors mapped by `map_provider_error` are returned in `error`, not raised.
    """
    started = time.perf_counter()
    earlier = [str(turn.get("content", "")) for turn in history or [] if turn.get("role") == "user"]
    if not earlier or not is_followup(question):
        return CondensedQuestion(question, "none", time.perf_counter() - started)

    error = None
    if target is not None:
        rewritten, error = _llm_rewrite(question, history or [], target)
        if rewritten is not None:
            return CondensedQuestion(rewritten, "llm", time.perf_counter() - started)
    carried = carry_key_terms(question, earlier)
    method = "keywords" if carried != question else "none"
    return CondensedQuestion(carried, method, time.perf_counter() - started, error)


def is_followup(question: str) -> bool:
    """Return whether `question` seems to depend on earlier turns.

    Cues: a pronoun, a follow-up opener (「那」「还有」, "what about"), a trailing 「呢」, or no content word of its own.
    """
    lowered = question.strip().lower()
    if lowered.startswith(FOLLOWUP_OPENERS) or re.search(r"呢\s*[？?]?\s*$", lowered):
        return True
    if any(token.lower() in PRONOUNS for token in _words(question)):
        return True
    return not key_terms(question)


def key_terms(text: str) -> list[str]:
    """Return the content words of `text` in order: no question words, aspect words, pronouns or punctuation.

    Words that stand next to each other in `text` are joined again, so 「少样本提示」 and "Few-shot" stay
    one term; a lone Chinese character is not a term.
    """
    spans = _spans(text)
    terms: list[str] = []
    current = ""
    last_end = -1
    for position, (token, start, end) in enumerate(spans):
        if not _is_content(token, spans, position):
            if current:
                terms.append(current)
            current, last_end = "", -1
            continue
        if current and start == last_end:
            current += token
        elif current:
            current += " " + token
        else:
            current = token
        last_end = end
    if current:
        terms.append(current)
    kept = [term for term in terms if len(term) > 1 or ASCII_WORD.fullmatch(term)]
    return list(dict.fromkeys(kept))


def _is_content(token: str, spans: list[tuple[str, int, int]], position: int) -> bool:
    """Return whether a jieba word belongs to a term; a hyphen or dot counts only inside an ASCII word."""
    lowered = token.lower()
    if token in {"-", "_", ".", "+"}:
        before = spans[position - 1] if position > 0 else None
        after = spans[position + 1] if position + 1 < len(spans) else None
        return bool(before and after and before[2] == spans[position][1] and after[1] == spans[position][2]
                    and ASCII_WORD.fullmatch(before[0]) and ASCII_WORD.fullmatch(after[0]))
    if QUESTION_WORD.match(token):
        return False
    return bool(re.search(r"\w", token)) and lowered not in NON_TERMS and lowered not in PRONOUNS


def carry_key_terms(question: str, earlier_questions: list[str]) -> str:
    """Return `question` with the key terms of the last self-contained earlier question put in.

    A Chinese pronoun (「它」「这个方法」…) is replaced by the terms; otherwise they are prepended
    ("terms：question"). Earlier questions that were follow-ups themselves are skipped, so a chain of
    follow-ups keeps the original subject. Returns `question` unchanged when nothing can be carried.
    """
    source = next((text for text in reversed(earlier_questions) if not is_followup(text)),
                  earlier_questions[0] if earlier_questions else "")
    terms = [term for term in key_terms(source) if term.lower() not in question.lower()][:MAX_CARRIED_TERMS]
    if not terms:
        return question
    subject = " ".join(terms)
    spans = _spans(question)
    for position, (token, start, end) in enumerate(spans):
        if token not in REFERRING_PRONOUNS:
            continue
        following = spans[position + 1] if position + 1 < len(spans) else None
        if token in DEMONSTRATIVES and following and following[1] == end and following[0][0] in CLASSIFIERS:
            end = following[2]  # 「这本书」「这个方法」: the classifier phrase goes with the pronoun
        return question[:start] + subject + question[end:]
    return f"{subject}：{question}"


def _llm_rewrite(question: str, history: list[dict], target: ChatTarget) -> tuple[str | None, ProviderError | None]:
    """Ask the LLM for the rewrite; return (usable rewrite or None, provider error or None)."""
    lines = []
    for turn in history[-HISTORY_TURNS:]:
        speaker = "用户" if turn.get("role") == "user" else "助手"
        content = " ".join(str(turn.get("content", "")).split())[:HISTORY_TURN_CHARS]
        lines.append(f"{speaker}：{content}")
    prompt = CONDENSE_PROMPT_ZH.format(history="\n".join(lines), question=question)
    began = time.perf_counter()
    try:
        reply = get_chat_model(target).invoke([HumanMessage(content=prompt)])
    except Exception as error:  # noqa: BLE001 - mapped below; unknown errors re-raise
        mapped = map_provider_error(error, target)
        if mapped is None:
            raise
        logger.warning("condense with provider %s model %s failed after %.2fs: %s; carrying key terms instead",
                       target.spec.id, target.model, time.perf_counter() - began, type(error).__name__)
        return None, mapped
    logger.info("provider %s model %s condensed a follow-up in %.2fs", target.spec.id, target.model,
                time.perf_counter() - began)
    rewritten = clean_rewrite(reply.content if isinstance(reply.content, str) else "", question, history)
    return rewritten, None


def clean_rewrite(reply: str, question: str, history: list[dict]) -> str | None:
    """Return the LLM's rewrite without labels and quotes, or None when it is unusable.

    Unusable: empty, far longer than the question and its context, or missing every content word of
    the question (the model answered, or wrote about something else).
    """
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text = re.sub(r"^(改写后的问题|检索用问题|问题|rewritten question)\s*[:：]\s*", "", lines[0], flags=re.IGNORECASE)
    text = text.strip().strip("\"'“”「」")
    context_chars = sum(len(str(turn.get("content", ""))[:HISTORY_TURN_CHARS]) for turn in history[-2:])
    if not text or len(text) > MAX_REWRITE_GROWTH * (len(question) + 20) + context_chars:
        return None
    own_terms = key_terms(question)
    aspect_words = [word for word in _words(question) if word in NON_TERMS and len(word) > 1
                    and re.search(r"[\u4e00-\u9fff]", word)]
    required = own_terms or aspect_words
    if required and not any(term.lower().replace(" ", "") in text.lower().replace(" ", "") for term in required):
        return None
    return text


def _words(text: str) -> list[str]:
    return [token for token, _, _ in _spans(text)]


def _spans(text: str) -> list[tuple[str, int, int]]:
    """Return jieba's words of `text` (precise mode) with their character offsets, without whitespace."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [(token, start, end) for token, start, end in jieba.tokenize(text) if token.strip()]
