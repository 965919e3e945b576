"""Turn stored conversations and their sources into the Markdown/HTML the chat shows.

Pure functions without Gradio, so a live answer and the same answer restored after a page reload
are rendered by the same code.
"""

from __future__ import annotations

import html
import re

from llm_universe.chains.citations import MARKER
from llm_universe.conversations import Conversation, Message
from llm_universe.i18n import translate

EXCERPT_CHARS = 600
# Characters of context kept before the first cited passage when an excerpt is shortened.
EXCERPT_LEAD_CHARS = 150
# Fenced code blocks and inline code spans: citation markers inside them are left as typed.
CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
LABELS = ("knowledge_base", "general_knowledge", "not_found")
# Catalog keys of the rewrite methods (`AnswerResult.rewrite_method`) named in the answer; 'none' is not named.
REWRITE_METHODS = {"llm": "ui.rewrite_llm", "keywords": "ui.rewrite_keywords", "edited": "ui.rewrite_edited"}


def render_sources(sources: list[dict], lang: str) -> str:
    """Return a collapsed `<details>` block listing each source as "[n] file page N", expandable to its excerpt.

    Cited sources are marked, and the cited passages of their excerpt are highlighted with `<mark>`.
    The block is a single line of HTML, because a blank line would end the Markdown HTML block and let
    the Markdown renderer reinterpret the escaped excerpt.
    """
    if not sources:
        return ""
    items = [_render_source(source, lang) for source in sources]
    summary = html.escape(translate("ui.sources_summary", lang, count=len(sources)))
    return f'<details class="lu-sources"><summary>{summary}</summary>{"".join(items)}</details>'


def source_title(source: dict, lang: str) -> str:
    """Return "[n] file name page N" for a source (unescaped)."""
    title = f"[{source.get('index', '?')}] {source.get('source', '')}"
    if source.get("page"):
        title += " " + translate("answer.page", lang, page=source["page"])
    return title


def _render_source(source: dict, lang: str) -> str:
    badges = ""
    if source.get("is_correction"):
        badges += f' <span class="lu-badge lu-badge-correction">{html.escape(translate("ui.user_correction", lang))}</span>'
    if source.get("cited"):
        badges += f' <span class="lu-badge lu-badge-cited">{html.escape(translate("ui.source_cited", lang))}</span>'
    knowledge_base = html.escape(str(source.get("knowledge_base", "")))
    classes = "lu-source" + (" lu-source-correction" if source.get("is_correction") else "")
    return (
        f'<details class="{classes}"><summary class="lu-source-title">{html.escape(source_title(source, lang))}'
        f' <span class="lu-source-kb">{knowledge_base}</span>{badges}</summary>'
        f'<div class="lu-source-text">{highlighted_excerpt(source)}</div></details>'
    )


def highlighted_excerpt(source: dict) -> str:
    """Return the source's text as escaped HTML on one line, with its highlight spans wrapped in `<mark>`.

    A text longer than EXCERPT_CHARS is cut to a window that starts shortly before the first cited passage.
    """
    text = str(source.get("text", ""))
    spans = sorted((int(span["start"]), int(span["end"])) for span in source.get("highlights") or []
                   if 0 <= int(span.get("start", -1)) < int(span.get("end", -1)) <= len(text))
    start = max(0, spans[0][0] - EXCERPT_LEAD_CHARS) if spans and len(text) > EXCERPT_CHARS else 0
    end = min(len(text), start + EXCERPT_CHARS)
    pieces, position = [], start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, position), min(span_end, end)
        if span_start >= span_end:
            continue
        pieces.append(_one_line(text[position:span_start]))
        pieces.append(f"<mark>{_one_line(text[span_start:span_end])}</mark>")
        position = span_end
    pieces.append(_one_line(text[position:end]))
    return ("…" if start > 0 else "") + "".join(pieces).strip() + ("…" if end < len(text) else "")


def _one_line(text: str) -> str:
    collapsed = re.sub(r"\s+", " ", text)
    return html.escape(collapsed)


def link_citations(answer: str, sources: list[dict], lang: str) -> str:
    """Return `answer` with each citation marker of a shown source wrapped in a span naming that source.

    Markers inside code are left alone, and so are markers of numbers no source has.
    """
    titles = {int(source["index"]): source_title(source, lang) for source in sources if "index" in source}
    if not titles:
        return answer

    def wrap(match: re.Match) -> str:
        if match.string[match.end():match.end() + 1] == "(":
            return match.group(0)
        numbers = [int(number) for number in re.findall(r"\d+", match.group("numbers"))]
        if not all(number in titles for number in numbers):
            return match.group(0)
        title = html.escape("；".join(titles[number] for number in numbers), quote=True)
        return f'<span class="lu-cite" title="{title}">{html.escape(match.group(0))}</span>'

    parts, position = [], 0
    for code in CODE.finditer(answer):
        parts.append(MARKER.sub(wrap, answer[position:code.start()]))
        parts.append(code.group(0))
        position = code.end()
    parts.append(MARKER.sub(wrap, answer[position:]))
    return "".join(parts)


def render_answer_meta(details: dict | None, question: str | None, lang: str) -> str:
    """Return one line of HTML with where the answer came from and the retrieval question, or "" without details.

    The retrieval question is shown when it differs from the question asked (a rewritten follow-up
    or an edited one).
    """
    details = details or {}
    parts = []
    label = details.get("label")
    if label in LABELS:
        text = html.escape(translate(f"answer.label_{label}", lang))
        parts.append(f'<span class="lu-label lu-label-{label}">{text}</span>')
    if details.get("used_correction"):
        parts.append(f'<span class="lu-badge lu-badge-correction">{html.escape(translate("ui.used_correction", lang))}</span>')
    retrieval_question = str(details.get("retrieval_question") or "").strip()
    method = details.get("rewrite_method")
    if retrieval_question and (method in REWRITE_METHODS or retrieval_question != (question or "").strip()):
        name = html.escape(translate("answer.retrieval_question", lang))
        how = f' <span class="lu-rewrite-method">{html.escape(translate(REWRITE_METHODS[method], lang))}</span>' \
            if method in REWRITE_METHODS else ""
        parts.append(f'<span class="lu-retrieval-question">{name}：{html.escape(retrieval_question)}{how}</span>')
    if not parts:
        return ""
    return f'<div class="lu-answer-meta">{" ".join(parts)}</div>'


def render_answer(answer: str, sources: list[dict], status: str, lang: str, details: dict | None = None,
                  question: str | None = None) -> str:
    """Return an assistant message: the answer with linked citations, an incomplete-answer mark when cut off,
    its label and retrieval question (from the stored `details`), then its sources."""
    text = link_citations(answer.rstrip(), sources, lang)
    if text.count("```") % 2:
        # An answer cut off inside a code block would otherwise swallow the mark and the sources.
        text += "\n```"
    parts = [text]
    if status != "complete":
        parts.append(f'<p class="lu-incomplete">⚠️ {html.escape(translate("answer.incomplete", lang))}</p>')
    parts.append(render_answer_meta(details, question, lang))
    parts.append(render_sources(sources, lang))
    return "\n\n".join(part for part in parts if part)


def render_messages(messages: list[Message], lang: str, details: dict[int, dict] | None = None) -> list[dict]:
    """Return stored messages in the Chatbot's messages format, with label, retrieval question and sources
    under each answer; `details` maps a reply's message id to `Assistant.message_details`."""
    rendered = []
    question = None
    for message in messages:
        if message.role == "assistant":
            content = render_answer(message.content, message.sources, message.status, lang,
                                    (details or {}).get(message.id), question)
        else:
            content = message.content
            question = message.content
        rendered.append({"role": message.role, "content": content})
    return rendered


def feedback_values(messages: list[Message], details: dict[int, dict]) -> list[str | None]:
    """Return the Chatbot's `feedback_value`: "Like", "Dislike" or None for each assistant message, in order."""
    values: list[str | None] = []
    for message in messages:
        if message.role != "assistant":
            continue
        rating = ((details.get(message.id) or {}).get("feedback") or {}).get("rating")
        values.append({1: "Like", -1: "Dislike"}.get(rating))
    return values


def conversation_choices(conversations: list[Conversation], lang: str) -> list[tuple[str, str]]:
    """Return (title, id) pairs for the conversation list, with a placeholder title for untitled ones."""
    untitled = translate("ui.untitled_conversation", lang)
    return [(conversation.title or untitled, conversation.id) for conversation in conversations]
