"""The Chat tab and the conversation sidebar: streamed answers with sources, a stop button and stored history.

Conversations are stored by the `Assistant` in SQLite, keyed by the visitor's session id. A stop
request closes the answer stream; `Assistant.chat` then stores the text shown so far as an
incomplete answer, so the chat after a reload matches what the visitor saw.
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
from llm_universe.web.common import PageState, info, label_updates, new_session_id, valid_session, warn
from llm_universe.web.model_settings import ModelSettingsPanel, model_override, provider_id
from llm_universe.web.render import conversation_choices, render_answer, render_messages

logger = logging.getLogger(__name__)

# Chat streams mostly wait on remote LLMs, so many may run at once.
CHAT_CONCURRENCY = 16


class ChatPanel:
    """The conversation sidebar and the Chat tab, with their event handlers."""

    def __init__(self, assistant: Assistant, model_settings: ModelSettingsPanel) -> None:
        self.assistant = assistant
        self.model_settings = model_settings
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
            with gr.Row(equal_height=True):
                self.question = gr.Textbox(lines=1, max_lines=8, show_label=False, scale=8, elem_id="lu-question",
                                           **labels["question"])
                self.send = gr.Button(variant="primary", scale=1, min_width=80, elem_id="lu-send", **labels["send"])
                self.stop = gr.Button(variant="stop", scale=1, min_width=80, elem_id="lu-stop", visible=False,
                                      **labels["stop"])
            self.model_settings.build(lang)

    def label_properties(self, lang: str) -> dict[str, dict]:
        """Return {attribute name: properties} for every translated label of the panel."""
        t = lambda key: translate(key, lang)  # noqa: E731 - local shorthand
        return {
            "new_conversation": {"value": t("ui.new_conversation")},
            "conversations": {"label": t("ui.conversations")},
            "delete_conversation": {"value": t("ui.delete_conversation")},
            "tab": {"label": t("ui.tab_chat")},
            "kb_select": {"label": t("ui.kb_select")},
            "chatbot": {"label": t("ui.chatbot"), "placeholder": t("ui.chatbot_placeholder")},
            "question": {"label": t("ui.question"), "placeholder": t("ui.question_placeholder")},
            "send": {"value": t("ui.send")},
            "stop": {"value": t("ui.stop")},
        }

    def page_updates(self, session_id: str | None, conversation_id: str | None, lang: str,
                     kb_choices: list[str] | None = None, kb_value: list[str] | None = None) -> dict:
        """Return the panel's labels, conversation list and open conversation in `lang`.

        The knowledge-base selection is updated only when `kb_choices` is given.
        """
        properties = self.label_properties(lang)
        properties["conversations"].update(self._conversation_properties(session_id, conversation_id, lang))
        properties["chatbot"]["value"] = self._history(session_id, conversation_id, lang)
        if kb_choices is not None:
            properties["kb_select"].update(choices=kb_choices, value=kb_value or [])
        return label_updates(vars(self), properties)

    @property
    def page_outputs(self) -> list:
        """Every component `page_updates` can update."""
        return [self.new_conversation, self.conversations, self.delete_conversation, self.tab, self.kb_select,
                self.chatbot, self.question, self.send, self.stop]

    # Events ------------------------------------------------------------------------------------

    def wire(self, page: PageState) -> None:
        """Attach the event listeners of the sidebar and the Chat tab."""
        self.page = page
        outputs = [page.current, self.chatbot, self.conversations]
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

    def _wire_send(self, page: PageState) -> None:
        sending = gr.on(
            [self.question.submit, self.send.click], self.on_send,
            inputs=[self.question, self.kb_select, page.session, page.current, page.language_radio,
                    *self.model_settings.inputs],
            outputs=[self.question, self.chatbot, self.conversations, page.current, page.session, self.send,
                     self.stop],
            api_visibility="private", show_progress="minimal", concurrency_limit=CHAT_CONCURRENCY,
        )
        # Runs after the answer whether it succeeded, failed or was stopped.
        sending.then(lambda: (gr.update(visible=True), gr.update(visible=False)), outputs=[self.send, self.stop],
                     api_visibility="private", show_progress="hidden")
        self.stop.click(self.on_stop, inputs=[page.session, page.current], api_visibility="private",
                        show_progress="hidden")

    def on_new_conversation(self) -> tuple:
        """Start an empty conversation, which is stored once the first question is sent."""
        return {"id": None}, [], gr.update(value=None)

    def on_select_conversation(self, conversation_id: str | None, session_id: str | None, lang: str) -> tuple:
        """Open a conversation of this session."""
        lang = normalize_language(lang)
        if not conversation_id or not valid_session(session_id):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            history = render_messages(self.assistant.conversations.messages(conversation_id, session_id), lang)
        except ConversationNotFound as error:
            warn(error.message(lang), lang)
            return {"id": None}, [], self._conversation_list(session_id, None, lang)
        return {"id": conversation_id}, history, gr.skip()

    def on_delete_conversation(self, session_id: str | None, current: dict | None, lang: str) -> tuple:
        """Delete the open conversation of this session and show an empty chat."""
        lang = normalize_language(lang)
        conversation_id = (current or {}).get("id")
        if not conversation_id or not valid_session(session_id):
            info(translate("ui.no_conversation", lang), lang)
            return gr.skip(), gr.skip(), gr.skip()
        try:
            self.assistant.conversations.delete(conversation_id, session_id)
        except ConversationNotFound as error:
            warn(error.message(lang), lang)
        else:
            info(translate("ui.conversation_deleted", lang), lang)
        return {"id": None}, [], self._conversation_list(session_id, None, lang)

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

        key = _stream_key(session_id, conversation_id)
        stop = threading.Event()
        with self._stops_guard:
            self._stops[key] = stop
        try:
            request = {"provider": provider_id(provider),
                       "model": model_override(provider, self.assistant.settings, model),
                       "temperature": temperature, "api_key": (api_key or "").strip() or None}
            result, text = yield from self._stream_into(turn, history, session_id, conversation_id, question,
                                                        kb_names or [], lang, request, stop)
        finally:
            with self._stops_guard:
                self._stops.pop(key, None)

        if result is None and stop.is_set() and text:
            info(translate("ui.stopped", lang), lang)
            turn[1] = {"role": "assistant", "content": render_answer(text, [], "incomplete", lang)}
            yield {self.chatbot: history + turn,
                   self.conversations: self._conversation_list(session_id, conversation_id, lang)}
            return
        if result is None or result.status == "failed":
            yield self._restore_after_failure(question, session_id, conversation_id, created, history, lang)
            return
        if result.error is not None:
            warn(result.error.message(lang), lang)
        sources = [source.to_dict() for source in result.sources]
        turn[1] = {"role": "assistant", "content": render_answer(result.answer, sources, result.status, lang)}
        yield {self.chatbot: history + turn,
               self.conversations: self._conversation_list(session_id, conversation_id, lang)}

    def _stream_into(self, turn: list[dict], history: list[dict], session_id: str, conversation_id: str,
                     question: str, kb_names: list[str], lang: str, request: dict, stop: threading.Event):
        """Yield chat updates while the answer streams; return (AnswerResult or None, text streamed so far).

        The result is None after a failure (already shown as a toast) or after a stop request (`stop` is set).
        """
        text = ""
        stream = self._stream_answer(session_id, conversation_id, question, kb_names, lang, request)
        try:
            for event in stream:
                if event is None or isinstance(event, AnswerResult):
                    return event, text
                text = event
                if stop.is_set():
                    logger.info("stop requested in conversation %s", conversation_id)
                    return None, text
                turn[1] = {"role": "assistant", "content": text}
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

    def _stream_answer(self, session_id: str, conversation_id: str, question: str, kb_names: list[str], lang: str,
                       request: dict) -> Iterator[str | AnswerResult | None]:
        """Yield the growing answer text, then the AnswerResult, or None after showing a toast for an error.

        The chat generator is read to its end because it stores the turn after yielding the result.
        """
        text = ""
        result = None
        events = self.assistant.chat(session_id, conversation_id, question, kb_names, lang=lang, **request)
        try:
            for event in events:
                if isinstance(event, AnswerResult):
                    result = event
                else:
                    text += event
                    yield text
        except LLMUniverseError as error:
            logger.warning("chat in conversation %s failed: %s", conversation_id, error)
            warn(error.message(lang), lang)
        except Exception:  # noqa: BLE001 - the visitor gets a short message, the log gets the traceback
            logger.exception("chat in conversation %s failed", conversation_id)
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
        if not conversation_id or not valid_session(session_id):
            return []
        try:
            return render_messages(self.assistant.conversations.messages(conversation_id, session_id), lang)
        except ConversationNotFound:
            return []


def _stream_key(session_id: str | None, conversation_id: str | None) -> str:
    return f"{session_id}:{conversation_id}"
