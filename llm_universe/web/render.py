"""Turn stored conversations and their sources into the Markdown/HTML the chat shows.

Pure functions without Gradio, so a live answer and the same answer restored after a page reload
are rendered by the same code.
"""

from __future__ import annotations

import html

from llm_universe.conversations import Conversation, Message
from llm_universe.i18n import translate

EXCERPT_CHARS = 400


def render_sources(sources: list[dict], lang: str) -> str:
    """Return a collapsed `<details>` block listing each source as "[n] file page N" with its excerpt.

    The block is a single line of HTML, because a blank line would end the Markdown HTML block and let
    the Markdown renderer reinterpret the escaped excerpt.
    """
    if not sources:
        return ""
    items = [_render_source(source, lang) for source in sources]
    summary = html.escape(translate("ui.sources_summary", lang, count=len(sources)))
    return f'<details class="lu-sources"><summary>{summary}</summary>{"".join(items)}</details>'


def _render_source(source: dict, lang: str) -> str:
    title = f"[{source.get('index', '?')}] {source.get('source', '')}"
    if source.get("page"):
        title += " " + translate("answer.page", lang, page=source["page"])
    excerpt = " ".join(str(source.get("text", "")).split())
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[:EXCERPT_CHARS] + "…"
    knowledge_base = html.escape(str(source.get("knowledge_base", "")))
    return (
        f'<div class="lu-source"><div class="lu-source-title">{html.escape(title)}'
        f' <span class="lu-source-kb">{knowledge_base}</span></div>'
        f'<div class="lu-source-text">{html.escape(excerpt)}</div></div>'
    )


def render_answer(answer: str, sources: list[dict], status: str, lang: str) -> str:
    """Return an assistant message: the answer, an incomplete-answer mark when cut off, then its sources."""
    text = answer.rstrip()
    if text.count("```") % 2:
        # An answer cut off inside a code block would otherwise swallow the mark and the sources.
        text += "\n```"
    parts = [text]
    if status != "complete":
        parts.append(f'<p class="lu-incomplete">⚠️ {html.escape(translate("answer.incomplete", lang))}</p>')
    sources_block = render_sources(sources, lang)
    if sources_block:
        parts.append(sources_block)
    return "\n\n".join(part for part in parts if part)


def render_messages(messages: list[Message], lang: str) -> list[dict]:
    """Return stored messages in the Chatbot's messages format, with sources under each answer."""
    rendered = []
    for message in messages:
        if message.role == "assistant":
            content = render_answer(message.content, message.sources, message.status, lang)
        else:
            content = message.content
        rendered.append({"role": message.role, "content": content})
    return rendered


def conversation_choices(conversations: list[Conversation], lang: str) -> list[tuple[str, str]]:
    """Return (title, id) pairs for the conversation list, with a placeholder title for untitled ones."""
    untitled = translate("ui.untitled_conversation", lang)
    return [(conversation.title or untitled, conversation.id) for conversation in conversations]
