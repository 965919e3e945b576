"""The Chat tab and the conversation sidebar: streamed answers with sources, a stop button and stored history.

Conversations are stored by the `Assistant` in SQLite, keyed by the visitor's session id. A stop
request closes the answer stream; `Assistant.chat` then stores the text shown so far as an
incomplete answer, so the chat after a reload matches what the visitor saw.

Under the chat: the retrieval question of the last answer, which can be edited and re-run
(`Assistant.rerun`), the 「显示检索过程」 panel with the trace of this page's latest answer, and the
feedback panel (`review.ReviewPanel`) for 👍 / 👎 and corrections.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import gradio as gr

from llm_universe.chains.qa import AnswerResult
from llm_universe.errors import ConversationNotFound, LLMUniverseError
from llm_universe.i18n import normalize_language, translate
from llm_universe.service import Assistant
from llm_universe.web.common import (
    PageState,
    info,
    label_updates,
    merge_updates,
    new_session_id,
    valid_session,
    warn,
)
from llm_universe.web.model_settings import ModelSettingsPanel, model_override, provider_id
from llm_universe.web.render import conversation_choices, feedback_values, render_answer, render_messages
from llm_universe.web.review import ReviewPanel
from llm_universe.web.trace_render import render_trace

logger = logging.getLogger(__name__)

# Chat streams mostly wait on remote LLMs, so many may run at once.
CHAT_CONCURRENCY = 16


class ChatPanel:
    """The conversation sidebar and the Chat tab, with their event handlers."""

    def __init__(self, assistant: Assistant, model_settings: ModelSettingsPanel) -> None:
        self.assistant = assistant
        self.model_settings = model_settings
        self.review = ReviewPanel(assistant, self)
        # Stop requests of the answers being streamed, by "<session id>:<conversation id>".
        self._stops: dict[str, threading.Event] = {}
        self._stops_guard = threading.Lock()

    # Layout ------------------------------------------------------------------------------------

    def build_sidebar(self, lang: str) -> None:
        """Create the conversation list and its buttons inside the current Blocks context, labelled in `lang`."""
        labels = self.label_properties(lang)
        self.new_conversation = gr.Button(elem_id="lu-new-conversation", **labels["new_conversation"])
        self.conversations = gr.Radio([], value=None, elem_id="lu-conversations", **labels["conversations"])
        self.delete_conversation = gr.Button(elem_id="lu-delete-conversation", variant="stop", size="sm",
                                             **labels["delete_conversation"])

    def build_tab(self, lang: str) -> None:
        """Create the Chat tab, with the model settings below the input box."""
        labels = self.label_properties(lang)
        with gr.Tab(id="chat", elem_id="lu-chat-tab", **labels["tab"]) as self.tab:
            self.kb_select = gr.Dropdown([], value=[], multiselect=True, elem_id="lu-kb-select", **labels["kb_select"])
            self.chatbot = gr.Chatbot(elem_id="lu-chatbot", height=520, buttons=["copy"], **labels["chatbot"])
            self.review.build(lang)
            with gr.Row(equal_height=True):
                self.question = gr.Textbox(lines=1, max_lines=8, show_label=False, scale=8, elem_id="lu-question",
                                           **labels["question"])
                self.send = gr.Button(variant="primary", scale=1, min_width=80, elem_id="lu-send", **labels["send"])
                self.stop = gr.Button(variant="stop", scale=1, min_width=80, elem_id="lu-stop", visible=False,
                                      **labels["stop"])
            with gr.Row(equal_height=True, visible=False, elem_id="lu-rerun-row") as self.rerun_row:
                self.retrieval_question = gr.Textbox(lines=1, max_lines=4, scale=8, elem_id="lu-retrieval-question",
                                                     **labels["retrieval_question"])
                self.rerun = gr.Button(scale=1, min_width=80, elem_id="lu-rerun", **labels["rerun"])
            with gr.Accordion(open=False, elem_id="lu-trace", **labels["trace"]) as self.trace:
                self.trace_html = gr.HTML(render_trace(None, lang), elem_id="lu-trace-body")
            self.model_settings.build(lang)
            # The trace of this page's latest answer, because the core does not store traces. Created inside
            # the Tab: a component between two Tabs made Gradio 6.31 show the next tab's button twice.
            self.trace_state = gr.State(None)

    def label_properties(self, lang: str) -> dict[str, dict]:
        """Return {attribute name: properties} for every translated label of the panel."""
        t = lambda key: translate(key, lang)  # noqa: E731 - local shorthand
        return {
            "new_conversation": {"value": t("ui.new_conversation")},
            "conversations": {"label": t("ui.conversations")},
            "delete_conversation": {"value": t("ui.delete_conversation")},
            "tab": {"label": t("ui.tab_chat")},
            "kb_select": {"label": t("ui.kb_select")},
            "chatbot": {"label": t("ui.chatbot"), "placeholder": t("ui.chatbot_placeholder"),
                        "feedback_options": ["Like", "Dislike", t("ui.feedback_correct")]},
            "question": {"label": t("ui.question"), "placeholder": t("ui.question_placeholder")},
            "send": {"value": t("ui.send")},
            "stop": {"value": t("ui.stop")},
            "retrieval_question": {"label": t("ui.rerun_label"), "info": t("ui.rerun_info")},
            "rerun": {"value": t("ui.rerun")},
            "trace": {"label": t("ui.trace_panel")},
        }

    def page_updates(self, session_id: str | None, conversation_id: str | None, lang: str,
                     kb_choices: list[str] | None = None, kb_value: list[str] | None = None,
                     trace: dict | None = None) -> dict:
        """Return the panel's labels, conversation list, open conversation and retrieval trace in `lang`.

        The knowledge-base selection is updated only when `kb_choices` is given.
        """
        properties = self.label_properties(lang)
        properties["conversations"].update(self._conversation_properties(session_id, conversation_id, lang))
        if kb_choices is not None:
            properties["kb_select"].update(choices=kb_choices, value=kb_value or [])
        updates = label_updates(vars(self), properties)
        merge_updates(updates, self.chat_updates(session_id, conversation_id, lang))
        merge_updates(updates, self.review.page_updates(lang))
        updates[self.trace_html] = render_trace(trace, lang)
        return updates

    @property
    def page_outputs(self) -> list:
        """Every component `page_updates` can update."""
        return [self.new_conversation, self.conversations, self.delete_conversation, self.tab, self.kb_select,
                self.chatbot, self.question, self.send, self.stop, self.rerun_row, self.retrieval_question,
                self.rerun, self.trace, self.trace_html, *self.review.page_outputs]

    def chat_updates(self, session_id: str | None, conversation_id: str | None, lang: str) -> dict:
        """Return the chat rendered from the store (with ratings), and the last answer's retrieval question."""
        messages, details = self.load_conversation(session_id, conversation_id)
        last_reply = next((message for message in reversed(messages) if message.role == "assistant"), None)
        question = (details.get(last_reply.id) or {}).get("retrieval_question") if last_reply else None
        if last_reply is not None and not question:
            # A reply stored before retrieval questions were recorded: offer the question it answered.
            question = next((message.content for message in reversed(messages) if message.role == "user"), "")
        return {
            self.chatbot: gr.update(value=render_messages(messages, lang, details),
                                    feedback_value=feedback_values(messages, details)),
            self.rerun_row: gr.update(visible=last_reply is not None),
            self.retrieval_question: question or "",
        }

    def load_conversation(self, session_id: str | None, conversation_id: str | None) -> tuple[list, dict[int, dict]]:
        """Return the stored messages of a conversation of this session and {reply id: message details}."""
        if not conversation_id or not valid_session(session_id):
            return [], {}
        try:
            messages = self.assistant.conversations.messages(conversation_id, session_id)
        except ConversationNotFound:
            return [], {}
        # NOTE: one message_details call per reply; the core has no call returning them for a whole conversation.
        details = {message.id: self.assistant.message_details(session_id, message.id)
                   for message in messages if message.role == "assistant"}
        return messages, details

    # Events ------------------------------------------------------------------------------------

    def wire(self, page: PageState) -> None:
        """Attach the event listeners of the sidebar and the Chat tab."""
        self.page = page
        outputs = [page.current, self.chatbot, self.conversations, self.rerun_row, self.retrieval_question]
        # The Chatbot's own clear button starts a new conversation too; the stored one stays in the list.
        gr.on([self.new_conversation.click, self.chatbot.clear], self.on_new_conversation, outputs=outputs,
              api_visibility="private", show_progress="hidden")
        self.conversations.input(self.on_select_conversation,
                                 inputs=[self.conversations, page.session, page.language_radio],
                                 outputs=outputs, api_visibility="private", show_progress="hidden")
        self.delete_conversation.click(self.on_delete_conversation,
                                       inputs=[page.session, page.current, page.language_radio],
                                       outputs=outputs, api_visibility="private", show_progress="hidden")
        self.kb_select.input(lambda names: names, inputs=[self.kb_select], outputs=[page.selected],
                             api_visibility="private", show_progress="hidden")
        self._wire_send(page)
        self.review.wire(page)

    def _wire_send(self, page: PageState) -> None:
        sending = gr.on(
            [self.question.submit, self.send.click], self.on_send,
            inputs=[self.question, self.kb_select, page.session, page.current, page.language_radio,
                    *self.model_settings.inputs],
            outputs=[self.question, self.chatbot, self.conversations, page.current, page.session, self.send,
                     self.stop, self.rerun_row, self.retrieval_question, self.trace_html, self.trace_state],
            api_visibility="private", show_progress="minimal", concurrency_limit=CHAT_CONCURRENCY,
        )
        # Runs after the answer whether it succeeded, failed or was stopped.
        sending.then(lambda: (gr.update(visible=True), gr.update(visible=False)), outputs=[self.send, self.stop],
                     api_visibility="private", show_progress="hidden")
        rerunning = gr.on(
            [self.rerun.click, self.retrieval_question.submit], self.on_rerun,
            inputs=[self.retrieval_question, self.kb_select, page.session, page.current, page.language_radio,
                    *self.model_settings.inputs],
            outputs=[self.chatbot, self.conversations, self.send, self.stop, self.rerun_row, self.retrieval_question,
                     self.trace_html, self.trace_state],
            api_visibility="private", show_progress="minimal", concurrency_limit=CHAT_CONCURRENCY,
        )
        rerunning.then(lambda: (gr.update(visible=True), gr.update(visible=False)), outputs=[self.send, self.stop],
                       api_visibility="private", show_progress="hidden")
        self.stop.click(self.on_stop, inputs=[page.session, page.current], api_visibility="private",
                        show_progress="hidden")

    def on_new_conversation(self) -> dict:
        """Start an empty conversation, which is stored once the first question is sent."""
        return {self.page.current: {"id": None}, **self._empty_chat(), self.conversations: gr.update(value=None)}

    def on_select_conversation(self, conversation_id: str | None, session_id: str | None, lang: str) -> dict:
        """Open a conversation of this session."""
        lang = normalize_language(lang)
        if not conversation_id or not valid_session(session_id):
            return {}
        try:
            self.assistant.conversations.get(conversation_id, session_id)
        except ConversationNotFound as error:
            warn(error.message(lang), lang)
            return {self.page.current: {"id": None}, **self._empty_chat(),
                    self.conversations: self._conversation_list(session_id, None, lang)}
        return {self.page.current: {"id": conversation_id}, **self.chat_updates(session_id, conversation_id, lang)}

    def on_delete_conversation(self, session_id: str | None, current: dict | None, lang: str) -> dict:
        """Delete the open conversation of this session and show an empty chat."""
        lang = normalize_language(lang)
        conversation_id = (current or {}).get("id")
        if not conversation_id or not valid_session(session_id):
            info(translate("ui.no_conversation", lang), lang)
            return {}
        try:
            self.assistant.conversations.delete(conversation_id, session_id)
        except ConversationNotFound as error:
            warn(error.message(lang), lang)
        else:
            info(translate("ui.conversation_deleted", lang), lang)
        return {self.page.current: {"id": None}, **self._empty_chat(),
                self.conversations: self._conversation_list(session_id, None, lang)}

    def _empty_chat(self) -> dict:
        return {self.chatbot: gr.update(value=[], feedback_value=[]), self.rerun_row: gr.update(visible=False),
                self.retrieval_question: ""}

    def on_stop(self, session_id: str | None, current: dict | None) -> None:
        """Ask the answer being streamed into the open conversation of this session to stop."""
        key = _stream_key(session_id, (current or {}).get("id"))
        with self._stops_guard:
            stop = self._stops.get(key)
        if stop is not None:
            stop.set()

    def on_send(self, question: str, kb_names: list[str] | None, session_id: str | None, current: dict | None,
                lang: str, provider: str, model: str, temperature: float, api_key: str) -> Iterator[dict]:
        """Clear the input, then stream the answer into the chat and store the turn in the conversation."""
        lang = normalize_language(lang)
        question = (question or "").strip()
        failure = self._check_question(question, kb_names, lang)
        if failure:
            warn(failure, lang)
            yield {self.question: gr.skip()}
            return

        session_id = session_id if valid_session(session_id) else new_session_id()
        conversation_id, created = self._open_conversation(session_id, (current or {}).get("id"))
        history = self._history(session_id, conversation_id, lang)
        turn = [{"role": "user", "content": question}, {"role": "assistant", "content": translate("ui.thinking", lang)}]
        yield {self.question: "", self.chatbot: history + turn, self.page.current: {"id": conversation_id},
               self.page.session: session_id, self.send: gr.update(visible=False), self.stop: gr.update(visible=True)}

        request = self._request(provider, model, temperature, api_key)
        events = self.assistant.chat(session_id, conversation_id, question, kb_names or [], lang=lang, **request)
        result, text, stopped = yield from self._stream_with_stop(events, history, turn, session_id, conversation_id,
                                                                  lang)
        if result is None and stopped and text:
            yield self._after_stop(text, history, turn, session_id, conversation_id, lang)
            return
        if result is None or result.status == "failed":
            yield self._restore_after_failure(question, session_id, conversation_id, created, history, lang)
            return
        yield self._after_answer(result, session_id, conversation_id, lang)

    def on_rerun(self, retrieval_question: str, kb_names: list[str] | None, session_id: str | None,
                 current: dict | None, lang: str, provider: str, model: str, temperature: float,
                 api_key: str) -> Iterator[dict]:
        """Answer the conversation's last question again, retrieving with the edited retrieval question."""
        lang = normalize_language(lang)
        retrieval_question = (retrieval_question or "").strip()
        conversation_id = self.existing_conversation(session_id, (current or {}).get("id"))
        failure = self._check_rerun(retrieval_question, kb_names, conversation_id, lang)
        if failure:
            warn(failure, lang)
            yield {self.rerun: gr.skip()}
            return

        history = self._history(session_id, conversation_id, lang)
        if history and history[-1]["role"] == "assistant":
            history = history[:-1]
        turn = [{"role": "assistant", "content": translate("ui.thinking", lang)}]
        yield {self.chatbot: history + turn, self.send: gr.update(visible=False), self.stop: gr.update(visible=True)}

        request = self._request(provider, model, temperature, api_key)
        events = self.assistant.rerun(session_id, conversation_id, retrieval_question, kb_names or [], lang=lang,
                                      **request)
        result, text, stopped = yield from self._stream_with_stop(events, history, turn, session_id, conversation_id,
                                                                  lang)
        if result is None and stopped and text:
            yield self._after_stop(text, history, turn, session_id, conversation_id, lang)
            return
        if result is None or result.status == "failed":
            # The stored reply is unchanged after a failure, so the chat shows it again.
            yield self.chat_updates(session_id, conversation_id, lang)
            return
        yield self._after_answer(result, session_id, conversation_id, lang)

    def _request(self, provider: str, model: str, temperature: float, api_key: str) -> dict:
        """Return the provider arguments of `Assistant.chat` from the model settings."""
        return {"provider": provider_id(provider), "model": model_override(provider, self.assistant.settings, model),
                "temperature": temperature, "api_key": (api_key or "").strip() or None}

    def _stream_with_stop(self, events: Iterator, history: list[dict], turn: list[dict], session_id: str,
                          conversation_id: str, lang: str):
        """Stream `events` into the chat while the stop button can end them; return (result, text, stopped)."""
        key = _stream_key(session_id, conversation_id)
        stop = threading.Event()
        with self._stops_guard:
            self._stops[key] = stop
        try:
            result, text = yield from self._stream_into(events, history, turn, conversation_id, lang, stop)
        finally:
            with self._stops_guard:
                self._stops.pop(key, None)
        return result, text, stop.is_set()

    def _after_stop(self, text: str, history: list[dict], turn: list[dict], session_id: str, conversation_id: str,
                    lang: str) -> dict:
        info(translate("ui.stopped", lang), lang)
        turn[-1] = {"role": "assistant", "content": render_answer(text, [], "incomplete", lang)}
        return {self.chatbot: history + turn,
                self.conversations: self._conversation_list(session_id, conversation_id, lang)}

    def _after_answer(self, result: AnswerResult, session_id: str, conversation_id: str, lang: str) -> dict:
        """Show the stored conversation with the new answer, and its retrieval trace."""
        if result.error is not None:
            warn(result.error.message(lang), lang)
        return {**self.chat_updates(session_id, conversation_id, lang),
                self.conversations: self._conversation_list(session_id, conversation_id, lang),
                self.trace_html: render_trace(result.trace, lang), self.trace_state: result.trace}

    def _stream_into(self, events: Iterator, history: list[dict], turn: list[dict], conversation_id: str, lang: str,
                     stop: threading.Event):
        """Yield chat updates while the answer streams; return (AnswerResult or None, text streamed so far).

        The result is None after a failure (already shown as a toast) or after a stop request (`stop` is set).
        """
        text = ""
        stream = self._stream_answer(events, conversation_id, lang)
        try:
            for event in stream:
                if event is None or isinstance(event, AnswerResult):
                    return event, text
                text = event
                if stop.is_set():
                    logger.info("stop requested in conversation %s", conversation_id)
                    return None, text
                turn[-1] = {"role": "assistant", "content": text}
                yield {self.chatbot: history + turn}
        finally:
            # Closing the stream lets Assistant.chat store the text streamed so far as an incomplete answer.
            stream.close()
        return None, text

    @staticmethod
    def _check_question(question: str, kb_names: list[str] | None, lang: str) -> str | None:
        if not question:
            return translate("error.empty_question", lang)
        if not kb_names:
            return translate("error.no_kb_selected", lang)
        return None

    @staticmethod
    def _check_rerun(retrieval_question: str, kb_names: list[str] | None, conversation_id: str | None,
                     lang: str) -> str | None:
        if not conversation_id:
            return translate("ui.no_conversation", lang)
        if not retrieval_question:
            return translate("ui.rerun_empty", lang)
        if not kb_names:
            return translate("error.no_kb_selected", lang)
        return None

    def _stream_answer(self, events: Iterator, conversation_id: str, lang: str) -> Iterator[str | AnswerResult | None]:
        """Yield the growing answer text of `events` (from `Assistant.chat` or `rerun`), then the AnswerResult,
        or None after showing a toast for an error.

        The events are read to their end because the Assistant stores the turn after yielding the result.
        """
        text = ""
        result = None
        try:
            for event in events:
                if isinstance(event, AnswerResult):
                    result = event
                else:
                    text += event
                    yield text
        except LLMUniverseError as error:
            logger.warning("answer in conversation %s failed: %s", conversation_id, error)
            warn(error.message(lang), lang)
        except Exception:  # noqa: BLE001 - the visitor gets a short message, the log gets the traceback
            logger.exception("answer in conversation %s failed", conversation_id)
            warn(translate("error.internal", lang), lang)
        finally:
            events.close()
        if result is not None and result.status == "failed" and result.error is not None:
            warn(result.error.message(lang), lang)
        yield result

    def _restore_after_failure(self, question: str, session_id: str, conversation_id: str, created: bool,
                               history: list[dict], lang: str) -> dict:
        """Put the question back into the input so it can be resent, and drop a conversation created for it."""
        if created:
            self.assistant.conversations.delete(conversation_id, session_id)
            conversation_id = None
        return {self.question: question, self.chatbot: history, self.page.current: {"id": conversation_id},
                self.conversations: self._conversation_list(session_id, conversation_id, lang)}

    # Helpers -----------------------------------------------------------------------------------

    def _open_conversation(self, session_id: str, conversation_id: str | None) -> tuple[str, bool]:
        """Return (conversation id, created): the open conversation if it still exists, else a new one."""
        existing = self.existing_conversation(session_id, conversation_id)
        if existing:
            return existing, False
        return self.assistant.conversations.create(session_id).id, True

    def existing_conversation(self, session_id: str | None, conversation_id: str | None) -> str | None:
        """Return `conversation_id` if it belongs to this session, else None."""
        if not conversation_id or not valid_session(session_id):
            return None
        try:
            return self.assistant.conversations.get(conversation_id, session_id).id
        except ConversationNotFound:
            return None

    def _conversation_properties(self, session_id: str | None, conversation_id: str | None, lang: str) -> dict:
        conversations = self.assistant.conversations.list(session_id) if valid_session(session_id) else []
        return {"choices": conversation_choices(conversations, lang), "value": conversation_id}

    def _conversation_list(self, session_id: str | None, conversation_id: str | None, lang: str):
        return gr.update(**self._conversation_properties(session_id, conversation_id, lang))

    def _history(self, session_id: str | None, conversation_id: str | None, lang: str) -> list[dict]:
        messages, details = self.load_conversation(session_id, conversation_id)
        return render_messages(messages, lang, details)


def _stream_key(session_id: str | None, conversation_id: str | None) -> str:
    return f"{session_id}:{conversation_id}"
