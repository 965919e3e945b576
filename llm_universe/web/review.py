"""Feedback on answers in the Chat tab: 👍 / 👎 and 「纠正答案」 on every reply, and the correction form.

The Chatbot's own feedback buttons are used: "Like" and "Dislike" render as thumbs, and the extra
option 「纠正答案」 sits in the flag menu of every reply. The event carries the message's position in
the chat, which equals its position in the stored conversation because the chat is always
rendered from the store. A saved correction becomes a source of a knowledge base
(`Assistant.correct`), so asking the same question again uses it and labels it 用户纠正.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import gradio as gr

from llm_universe.conversations import Message
from llm_universe.errors import ConversationNotFound, LLMUniverseError
from llm_universe.i18n import LANGUAGES, normalize_language, translate
from llm_universe.service import Assistant
from llm_universe.web.common import PageState, info, label_updates, valid_session, warn
from llm_universe.web.knowledge_render import markdown_text

if TYPE_CHECKING:
    from llm_universe.web.chat import ChatPanel

logger = logging.getLogger(__name__)

RATINGS = {True: 1, False: -1}
# Characters of the question shown in the correction form's heading.
HEADING_QUESTION_CHARS = 80


class ReviewPanel:
    """The correction form under the chat and the handlers of the Chatbot's feedback buttons."""

    def __init__(self, assistant: Assistant, chat: ChatPanel) -> None:
        self.assistant = assistant
        self.chat = chat

    def build(self, lang: str) -> None:
        """Create the hidden correction form inside the current Blocks context, labelled in `lang`."""
        labels = self.label_properties(lang)
        with gr.Group(visible=False, elem_id="lu-correction") as self.form:
            self.heading = gr.Markdown(elem_id="lu-correction-heading")
            self.answer = gr.Textbox(lines=3, max_lines=12, elem_id="lu-correction-text", **labels["answer"])
            self.kb = gr.Dropdown([], value=None, elem_id="lu-correction-kb", **labels["kb"])
            with gr.Row():
                self.save = gr.Button(variant="primary", elem_id="lu-correction-save", **labels["save"])
                self.cancel = gr.Button(elem_id="lu-correction-cancel", **labels["cancel"])
        # Message id of the reply being corrected.
        self.target = gr.State(None)

    def label_properties(self, lang: str) -> dict[str, dict]:
        """Return {attribute name: properties} for every translated label of the form."""
        return {
            "answer": {"label": translate("ui.correction_text", lang),
                       "placeholder": translate("ui.correction_placeholder", lang)},
            "kb": {"label": translate("ui.correction_kb", lang)},
            "save": {"value": translate("ui.correction_save", lang)},
            "cancel": {"value": translate("ui.cancel", lang)},
        }

    def page_updates(self, lang: str) -> dict:
        """Return the form's labels in `lang`, and close it."""
        updates = label_updates(vars(self), self.label_properties(lang))
        updates[self.form] = gr.update(visible=False)
        updates[self.target] = None
        return updates

    @property
    def page_outputs(self) -> list:
        """Every component `page_updates` updates."""
        return [self.answer, self.kb, self.save, self.cancel, self.form, self.target]

    def wire(self, page: PageState) -> None:
        """Attach the feedback and correction event listeners."""
        common = {"api_visibility": "private", "show_progress": "hidden"}
        form = [self.form, self.heading, self.answer, self.kb, self.target]
        self.chat.chatbot.like(self.on_feedback, inputs=[page.session, page.current, page.language_radio],
                               outputs=form, **common)
        self.save.click(self.on_save, inputs=[self.target, self.answer, self.kb, page.session, page.current,
                                              page.language_radio],
                        outputs=[*form, self.chat.chatbot, self.chat.rerun_row, self.chat.retrieval_question],
                        **common)
        self.cancel.click(lambda: (gr.update(visible=False), None), outputs=[self.form, self.target], **common)

    def on_feedback(self, session_id: str | None, current: dict | None, lang: str, data: gr.LikeData) -> dict:
        """Store 👍 or 👎 for the reply, or open the correction form for it."""
        lang = normalize_language(lang)
        message = self._reply_at(session_id, (current or {}).get("id"), data.index)
        if message is None:
            warn(translate("ui.reply_not_stored", lang), lang)
            return {}
        if data.liked in {translate("ui.feedback_correct", language) for language in LANGUAGES}:
            return self._open_form(session_id, message, (current or {}).get("id"), lang)
        if data.liked not in RATINGS:
            # Clicking the selected thumb again clears it in the page; the core keeps the rating.
            info(translate("ui.feedback_not_cleared", lang), lang)
            return {}
        try:
            self.assistant.feedback(session_id, message.id, RATINGS[data.liked])
        except LLMUniverseError as error:
            logger.warning("rating message %s failed: %s", message.id, error)
            warn(error.message(lang), lang)
            return {}
        info(translate("ui.feedback_saved_like" if data.liked else "ui.feedback_saved_dislike", lang), lang)
        return {}

    def on_save(self, message_id: int | None, corrected_answer: str, kb_name: str | None, session_id: str | None,
                current: dict | None, lang: str) -> dict:
        """Store the corrected answer in the chosen knowledge base and show the reply's new rating."""
        lang = normalize_language(lang)
        if message_id is None or not valid_session(session_id):
            return {self.form: gr.update(visible=False)}
        if not (corrected_answer or "").strip():
            warn(translate("error.correction_empty", lang), lang)
            return {}
        try:
            correction = self.assistant.correct(session_id, message_id, corrected_answer, kb_name or None)
        except LLMUniverseError as error:
            logger.warning("correcting message %s failed: %s", message_id, error)
            warn(error.message(lang), lang)
            return {}
        source = translate("answer.correction_source", lang, id=correction.id)
        info(translate("ui.correction_saved", lang, kb=correction.knowledge_base, source=source), lang)
        return {self.form: gr.update(visible=False), self.answer: "", self.target: None,
                **self.chat.chat_updates(session_id, (current or {}).get("id"), lang)}

    def _open_form(self, session_id: str, message: Message, conversation_id: str, lang: str) -> dict:
        """Return updates showing the correction form for `message`, with the knowledge base the core would pick."""
        details = self.assistant.message_details(session_id, message.id)
        question = self._question_before(session_id, conversation_id, message)
        names = [kb.name for kb in self.assistant.knowledge_bases.list()]
        shown = [str(source.get("knowledge_base")) for source in message.sources if source.get("knowledge_base")]
        default = next((name for name in [*shown, *(details.get("knowledge_bases") or [])] if name in names), None)
        if len(question) > HEADING_QUESTION_CHARS:
            question = question[:HEADING_QUESTION_CHARS] + "…"
        # An extractive answer is quotes plus a hint, a poor starting point, so only an LLM's answer is prefilled.
        prefill = message.content if message.provider not in (None, "none") else ""
        return {
            self.form: gr.update(visible=True),
            self.heading: translate("ui.correction_heading", lang, question=markdown_text(question)),
            self.answer: prefill,
            self.kb: gr.update(choices=names, value=default),
            self.target: message.id,
        }

    def _reply_at(self, session_id: str | None, conversation_id: str | None, index: object) -> Message | None:
        """Return the stored reply at chat position `index`, or None when there is none (yet)."""
        messages = self._messages(session_id, conversation_id)
        position = index[0] if isinstance(index, (list, tuple)) else index
        if not isinstance(position, int) or not 0 <= position < len(messages):
            return None
        message = messages[position]
        return message if message.role == "assistant" else None

    def _question_before(self, session_id: str, conversation_id: str, reply: Message) -> str:
        messages = self._messages(session_id, conversation_id)
        position = next(i for i, message in enumerate(messages) if message.id == reply.id)
        return next((message.content for message in reversed(messages[:position]) if message.role == "user"), "")

    def _messages(self, session_id: str | None, conversation_id: str | None) -> list[Message]:
        if not conversation_id or not valid_session(session_id):
            return []
        try:
            return self.assistant.conversations.messages(conversation_id, session_id)
        except ConversationNotFound:
            return []
