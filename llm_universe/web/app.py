"""Gradio web UI: chat over knowledge bases with streamed answers and sources, uploads, history, zh/en.

Per-visitor state lives in the visitor's browser, never in this module: `gr.BrowserState`
(localStorage) keeps a random session id, the UI language, the open conversation and the selected
knowledge bases. The conversations themselves are stored in SQLite by the `Assistant`, keyed by
that session id, so a reload restores them and another browser sees none of them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from llm_universe.chains.qa import AnswerResult
from llm_universe.config import Settings
from llm_universe.documents.loaders import SUPPORTED_EXTENSIONS
from llm_universe.errors import ConfigurationError, ConversationNotFound, LLMUniverseError
from llm_universe.i18n import normalize_language, translate
from llm_universe.knowledge_base.archives import ARCHIVE_SUFFIXES
from llm_universe.knowledge_base.manager import SAMPLE_KB_NAME
from llm_universe.knowledge_base.sample import ensure_sample_kb
from llm_universe.llms.registry import PROVIDERS, resolve_target
from llm_universe.service import Assistant
from llm_universe.web.render import (
    conversation_choices,
    render_answer,
    render_ingest_report,
    render_kb_table,
    render_messages,
)

logger = logging.getLogger(__name__)

# Choice value of the provider dropdown that means "use the provider configured in .env / environment".
DEFAULT_PROVIDER = "default"
# Each language is named in itself, so these labels stay the same in every UI language.
LANGUAGE_CHOICES = [("中文", "zh"), ("English", "en")]
SESSION_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
BROWSER_STATE_KEY_FILE = "browser_state.key"
# Chat streams mostly wait on remote LLMs, so many may run at once. Ingestion is CPU-bound.
DEFAULT_CONCURRENCY = 8
CHAT_CONCURRENCY = 16
UPLOAD_CONCURRENCY = 2

APP_CSS = """
#lu-model-status { font-size: 0.85em; opacity: 0.75; }
#lu-model-status p { margin: 0; }
.lu-sources { margin-top: 0.6em; font-size: 0.9em; }
.lu-sources summary { cursor: pointer; font-weight: 600; }
.lu-source { border-left: 3px solid var(--border-color-primary); padding-left: 0.6em; margin: 0.5em 0; }
.lu-source-title { font-weight: 600; }
.lu-source-kb { font-weight: normal; opacity: 0.65; font-size: 0.85em; }
.lu-source-text { opacity: 0.85; }
.lu-incomplete { color: var(--color-red-500, #c0392b); font-weight: 600; }
"""


@dataclass
class Components:
    """The Gradio components that event handlers read or update (layout only, no per-visitor data)."""

    session: gr.BrowserState
    language: gr.BrowserState
    current: gr.BrowserState
    selected: gr.BrowserState
    header: gr.Markdown
    language_radio: gr.Radio
    new_conversation: gr.Button
    conversations: gr.Radio
    delete_conversation: gr.Button
    chat_tab: gr.Tab
    knowledge_tab: gr.Tab
    kb_select: gr.Dropdown
    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    model_status: gr.Markdown
    model_settings: gr.Accordion
    provider: gr.Dropdown
    model: gr.Textbox
    api_key: gr.Textbox
    upload_target: gr.Dropdown
    new_kb_name: gr.Textbox
    files: gr.File
    upload_hint: gr.Markdown
    upload: gr.Button
    upload_result: gr.Markdown
    kb_overview: gr.Markdown


class WebApp:
    """Web UI builder and event handlers. Its only state is the shared `Assistant` and the settings."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.assistant = assistant or Assistant(settings)
        self.ui: Components | None = None

    # Layout ------------------------------------------------------------------------------------

    def build(self) -> gr.Blocks:
        """Create the Blocks with every component and event listener."""
        lang = normalize_language(self.settings.language)
        with gr.Blocks(title=translate("ui.page_title", lang), analytics_enabled=False) as demo:
            self.ui = self._build_layout(self._label_properties(lang, self._status_text(None, "", "", lang)))
            self._wire_events(demo)
        # Gradio's run history would copy every input, including API keys, into localStorage.
        demo.run_history = False
        demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY)
        return demo

    def _build_layout(self, labels: dict[str, dict]) -> Components:
        secret = browser_state_secret(self.settings.data_dir)
        states = {
            name: gr.BrowserState(default, storage_key=f"llm_universe.{name}", secret=secret)
            for name, default in [("session", None), ("language", None), ("current", {"id": None}),
                                  ("selected", None)]
        }
        with gr.Row(equal_height=True):
            header = gr.Markdown(elem_id="lu-header", **labels["header"])
            language_radio = gr.Radio(LANGUAGE_CHOICES, value=normalize_language(self.settings.language),
                                      elem_id="lu-language", scale=0, min_width=220, **labels["language_radio"])
        with gr.Row():
            with gr.Column(scale=1, min_width=220, elem_id="lu-sidebar"):
                new_conversation = gr.Button(elem_id="lu-new-conversation", **labels["new_conversation"])
                conversations = gr.Radio([], value=None, elem_id="lu-conversations", **labels["conversations"])
                delete_conversation = gr.Button(elem_id="lu-delete-conversation", variant="stop", size="sm",
                                                **labels["delete_conversation"])
            with gr.Column(scale=4):
                with gr.Tabs(elem_id="lu-tabs"):
                    chat = self._build_chat_tab(labels)
                    knowledge = self._build_knowledge_tab(labels)
        return Components(
            **states, header=header, language_radio=language_radio, new_conversation=new_conversation,
            conversations=conversations, delete_conversation=delete_conversation, **chat, **knowledge,
        )

    @staticmethod
    def _build_chat_tab(labels: dict[str, dict]) -> dict:
        with gr.Tab(id="chat", elem_id="lu-chat-tab", **labels["chat_tab"]) as chat_tab:
            kb_select = gr.Dropdown([], value=[], multiselect=True, elem_id="lu-kb-select", **labels["kb_select"])
            chatbot = gr.Chatbot(elem_id="lu-chatbot", height=520, buttons=["copy"], **labels["chatbot"])
            with gr.Row(equal_height=True):
                question = gr.Textbox(lines=1, max_lines=8, show_label=False, scale=8, elem_id="lu-question",
                                      **labels["question"])
                send = gr.Button(variant="primary", scale=1, min_width=80, elem_id="lu-send", **labels["send"])
            model_status = gr.Markdown(elem_id="lu-model-status", **labels["model_status"])
            with gr.Accordion(open=False, elem_id="lu-model-settings", **labels["model_settings"]) as model_settings:
                provider = gr.Dropdown(value=DEFAULT_PROVIDER, elem_id="lu-provider", **labels["provider"])
                model = gr.Textbox(elem_id="lu-model", **labels["model"])
                api_key = gr.Textbox(type="password", elem_id="lu-api-key", **labels["api_key"])
        return {"chat_tab": chat_tab, "kb_select": kb_select, "chatbot": chatbot, "question": question,
                "send": send, "model_status": model_status, "model_settings": model_settings,
                "provider": provider, "model": model, "api_key": api_key}

    @staticmethod
    def _build_knowledge_tab(labels: dict[str, dict]) -> dict:
        with gr.Tab(id="knowledge", elem_id="lu-knowledge-tab", **labels["knowledge_tab"]) as knowledge_tab:
            with gr.Row():
                upload_target = gr.Dropdown([], value=None, elem_id="lu-upload-target", **labels["upload_target"])
                new_kb_name = gr.Textbox(elem_id="lu-new-kb", **labels["new_kb_name"])
            files = gr.File(file_count="multiple", elem_id="lu-files", **labels["files"])
            upload_hint = gr.Markdown(elem_id="lu-upload-hint", **labels["upload_hint"])
            upload = gr.Button(variant="primary", elem_id="lu-upload", **labels["upload"])
            upload_result = gr.Markdown(elem_id="lu-upload-result")
            kb_overview = gr.Markdown(elem_id="lu-kb-overview")
        return {"knowledge_tab": knowledge_tab, "upload_target": upload_target, "new_kb_name": new_kb_name,
                "files": files, "upload_hint": upload_hint, "upload": upload, "upload_result": upload_result,
                "kb_overview": kb_overview}

    def _label_properties(self, lang: str, model_status: str) -> dict[str, dict]:
        """Return {Components field name: properties} for every translated label, placeholder and text."""
        t = lambda key, **params: translate(key, lang, **params)  # noqa: E731 - local shorthand
        supported = " ".join([*SUPPORTED_EXTENSIONS, *ARCHIVE_SUFFIXES])
        return {
            "header": {"value": t("ui.header")},
            "language_radio": {"label": t("ui.language")},
            "new_conversation": {"value": t("ui.new_conversation")},
            "conversations": {"label": t("ui.conversations")},
            "delete_conversation": {"value": t("ui.delete_conversation")},
            "chat_tab": {"label": t("ui.tab_chat")},
            "knowledge_tab": {"label": t("ui.tab_knowledge")},
            "kb_select": {"label": t("ui.kb_select")},
            "chatbot": {"label": t("ui.chatbot"), "placeholder": t("ui.chatbot_placeholder")},
            "question": {"label": t("ui.question"), "placeholder": t("ui.question_placeholder")},
            "send": {"value": t("ui.send")},
            "model_status": {"value": model_status},
            "model_settings": {"label": t("ui.model_settings")},
            "provider": {"label": t("ui.provider"), "choices": self._provider_choices(lang)},
            "model": {"label": t("ui.model"), "placeholder": t("ui.model_placeholder")},
            "api_key": {"label": t("ui.api_key"), "info": t("ui.api_key_info")},
            "upload_target": {"label": t("ui.upload_target")},
            "new_kb_name": {"label": t("ui.new_kb_name"), "placeholder": t("ui.new_kb_placeholder")},
            "files": {"label": t("ui.files")},
            "upload_hint": {"value": t("ui.upload_hint", types=supported, max_mb=self.settings.max_upload_mb)},
            "upload": {"value": t("ui.upload")},
        }

    def _label_updates(self, properties: dict[str, dict]) -> dict:
        """Turn name-keyed properties into {component: gr.update} for an event's return value."""
        return {getattr(self.ui, name): gr.update(**values) for name, values in properties.items()}

    def _provider_choices(self, lang: str) -> list[tuple[str, str]]:
        configured = self.settings.resolved_llm_provider
        default_name = PROVIDERS[configured].display_name[lang] if configured in PROVIDERS else configured
        choices = [(translate("ui.provider_default", lang, name=default_name), DEFAULT_PROVIDER)]
        # Hidden providers (the test model) are offered only when they are the configured one.
        choices += [(spec.display_name[lang], spec.id) for spec in PROVIDERS.values()
                    if not spec.hidden or spec.id == configured]
        return choices

    # Events ------------------------------------------------------------------------------------

    def _wire_events(self, demo: gr.Blocks) -> None:
        ui = self.ui
        assert ui is not None
        page = [ui.session, ui.language, ui.current, ui.selected, ui.language_radio, ui.conversations,
                ui.chatbot, ui.kb_select, ui.upload_target, ui.kb_overview]
        labelled = [getattr(ui, name) for name in self._label_properties("zh", "")]
        demo.load(self.on_load, inputs=[ui.session, ui.language, ui.current, ui.selected],
                  outputs=_unique(page + labelled), api_visibility="private", show_progress="hidden")
        ui.language_radio.input(
            self.on_language, inputs=[ui.language_radio, ui.session, ui.current, ui.provider, ui.model, ui.api_key],
            outputs=_unique([ui.language, ui.conversations, ui.chatbot, ui.kb_overview] + labelled),
            api_visibility="private", show_progress="hidden",
        )
        self._wire_conversation_events()
        self._wire_chat_events()
        ui.upload.click(
            self.on_upload, inputs=[ui.files, ui.upload_target, ui.new_kb_name, ui.kb_select, ui.language_radio],
            outputs=[ui.upload_result, ui.kb_select, ui.upload_target, ui.new_kb_name, ui.files, ui.kb_overview,
                     ui.selected],
            show_progress_on=[ui.upload_result], api_visibility="private", concurrency_limit=UPLOAD_CONCURRENCY,
        )

    def _wire_conversation_events(self) -> None:
        ui = self.ui
        assert ui is not None
        outputs = [ui.current, ui.chatbot, ui.conversations]
        # The Chatbot's own clear button starts a new conversation too; the stored one stays in the list.
        gr.on([ui.new_conversation.click, ui.chatbot.clear], self.on_new_conversation, outputs=outputs,
              api_visibility="private", show_progress="hidden")
        ui.conversations.input(self.on_select_conversation, inputs=[ui.conversations, ui.session, ui.language_radio],
                               outputs=outputs, api_visibility="private", show_progress="hidden")
        ui.delete_conversation.click(self.on_delete_conversation,
                                     inputs=[ui.session, ui.current, ui.language_radio],
                                     outputs=outputs, api_visibility="private", show_progress="hidden")

    def _wire_chat_events(self) -> None:
        ui = self.ui
        assert ui is not None
        gr.on(
            [ui.question.submit, ui.send.click], self.on_send,
            inputs=[ui.question, ui.kb_select, ui.session, ui.current, ui.language_radio, ui.provider, ui.model,
                    ui.api_key],
            outputs=[ui.question, ui.chatbot, ui.conversations, ui.current, ui.session],
            api_visibility="private", show_progress="minimal", concurrency_limit=CHAT_CONCURRENCY,
        )
        ui.kb_select.input(lambda names: names, inputs=[ui.kb_select], outputs=[ui.selected],
                           api_visibility="private", show_progress="hidden")
        gr.on(
            [ui.provider.change, ui.model.blur, ui.api_key.blur], self.on_model_settings,
            inputs=[ui.provider, ui.model, ui.api_key, ui.language_radio], outputs=[ui.model_status],
            api_visibility="private", show_progress="hidden",
        )

    def on_load(self, session_id: str | None, lang: str | None, current: dict | None,
                selected: list[str] | None) -> dict:
        """Restore a visitor's page from BrowserState: session, language, conversation and selected KBs."""
        ui = self.ui
        assert ui is not None
        session_id = session_id if _valid_session(session_id) else new_session_id()
        lang = normalize_language(lang or self.settings.language)
        conversation_id = self._existing_conversation(session_id, (current or {}).get("id"))
        kb_names = self._kb_names()
        chosen = [name for name in (selected or []) if name in kb_names] or default_kb_selection(kb_names)

        properties = self._label_properties(lang, self._status_text(None, "", "", lang))
        _merge(properties, {
            "language_radio": {"value": lang},
            "conversations": self._conversation_properties(session_id, conversation_id, lang),
            "chatbot": {"value": self._history(session_id, conversation_id, lang)},
            "kb_select": {"choices": kb_names, "value": chosen},
            "upload_target": {"choices": kb_names, "value": chosen[0] if chosen else None},
            "kb_overview": {"value": self._kb_overview(lang)},
        })
        updates = self._label_updates(properties)
        updates.update({ui.session: session_id, ui.language: lang, ui.current: {"id": conversation_id},
                        ui.selected: chosen})
        return updates

    def on_language(self, lang: str, session_id: str | None, current: dict | None, provider: str, model: str,
                    api_key: str) -> dict:
        """Re-label every component in `lang`, re-render the open conversation and remember the choice."""
        ui = self.ui
        assert ui is not None
        lang = normalize_language(lang)
        conversation_id = (current or {}).get("id")

        properties = self._label_properties(lang, self._status_text(provider, model, api_key, lang))
        _merge(properties, {
            "conversations": self._conversation_properties(session_id, conversation_id, lang),
            "chatbot": {"value": self._history(session_id, conversation_id, lang)},
            "provider": {"value": provider or DEFAULT_PROVIDER},
            "kb_overview": {"value": self._kb_overview(lang)},
        })
        updates = self._label_updates(properties)
        updates[ui.language] = lang
        return updates

    def on_new_conversation(self) -> tuple:
        """Start an empty conversation, which is stored once the first question is sent."""
        return {"id": None}, [], gr.update(value=None)

    def on_select_conversation(self, conversation_id: str | None, session_id: str | None, lang: str) -> tuple:
        """Open a conversation of this session."""
        if not conversation_id or not _valid_session(session_id):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            history = render_messages(self.assistant.conversations.messages(conversation_id, session_id), lang)
        except ConversationNotFound as error:
            _warn(error.message(lang), lang)
            return {"id": None}, [], self._conversation_list(session_id, None, lang)
        return {"id": conversation_id}, history, gr.skip()

    def on_delete_conversation(self, session_id: str | None, current: dict | None, lang: str) -> tuple:
        """Delete the open conversation of this session and show an empty chat."""
        conversation_id = (current or {}).get("id")
        if not conversation_id or not _valid_session(session_id):
            _info(translate("ui.no_conversation", lang), lang)
            return gr.skip(), gr.skip(), gr.skip()
        try:
            self.assistant.conversations.delete(conversation_id, session_id)
        except ConversationNotFound as error:
            _warn(error.message(lang), lang)
        else:
            _info(translate("ui.conversation_deleted", lang), lang)
        return {"id": None}, [], self._conversation_list(session_id, None, lang)

    def on_model_settings(self, provider: str, model: str, api_key: str, lang: str) -> str:
        """Show which provider and model will answer with the current model settings."""
        return self._status_text(provider, model, api_key, normalize_language(lang))

    # Chat --------------------------------------------------------------------------------------

    def on_send(self, question: str, kb_names: list[str] | None, session_id: str | None, current: dict | None,
                lang: str, provider: str, model: str, api_key: str) -> Iterator[dict]:
        """Clear the input, then stream the answer into the chat and store the turn in the conversation."""
        ui = self.ui
        assert ui is not None
        lang = normalize_language(lang)
        question = (question or "").strip()
        failure = self._check_question(question, kb_names, lang)
        if failure:
            _warn(failure, lang)
            yield {ui.question: gr.skip()}
            return

        session_id = session_id if _valid_session(session_id) else new_session_id()
        conversation_id, created = self._open_conversation(session_id, (current or {}).get("id"))
        history = self._history(session_id, conversation_id, lang)
        turn = [{"role": "user", "content": question}, {"role": "assistant", "content": translate("ui.thinking", lang)}]
        yield {ui.question: "", ui.chatbot: history + turn, ui.current: {"id": conversation_id},
               ui.session: session_id}

        result = None
        for event in self._stream_answer(session_id, conversation_id, question, kb_names or [], lang,
                                         provider, model, api_key):
            if event is None or isinstance(event, AnswerResult):
                result = event
                break
            turn[1] = {"role": "assistant", "content": event}
            yield {ui.chatbot: history + turn}

        if result is None or result.status == "failed":
            yield self._restore_after_failure(question, session_id, conversation_id, created, history, lang)
            return
        if result.error is not None:
            _warn(result.error.message(lang), lang)
        sources = [source.to_dict() for source in result.sources]
        turn[1] = {"role": "assistant", "content": render_answer(result.answer, sources, result.status, lang)}
        yield {ui.chatbot: history + turn, ui.conversations: self._conversation_list(session_id, conversation_id, lang)}

    @staticmethod
    def _check_question(question: str, kb_names: list[str] | None, lang: str) -> str | None:
        if not question:
            return translate("error.empty_question", lang)
        if not kb_names:
            return translate("error.no_kb_selected", lang)
        return None

    def _stream_answer(self, session_id: str, conversation_id: str, question: str, kb_names: list[str], lang: str,
                       provider: str, model: str, api_key: str) -> Iterator[str | AnswerResult | None]:
        """Yield the growing answer text, then the AnswerResult, or None after showing a toast for an error.

        The chat generator is read to its end because it stores the turn after yielding the result.
        """
        text = ""
        result = None
        try:
            for event in self.assistant.chat(
                session_id, conversation_id, question, kb_names, provider=_provider_id(provider),
                model=(model or "").strip() or None, api_key=(api_key or "").strip() or None, lang=lang,
            ):
                if isinstance(event, AnswerResult):
                    result = event
                else:
                    text += event
                    yield text
        except LLMUniverseError as error:
            logger.warning("chat in conversation %s failed: %s", conversation_id, error)
            _warn(error.message(lang), lang)
        except Exception:  # noqa: BLE001 - the visitor gets a short message, the log gets the traceback
            logger.exception("chat in conversation %s failed", conversation_id)
            _warn(translate("error.internal", lang), lang)
        if result is not None and result.status == "failed" and result.error is not None:
            _warn(result.error.message(lang), lang)
        yield result

    def _restore_after_failure(self, question: str, session_id: str, conversation_id: str, created: bool,
                               history: list[dict], lang: str) -> dict:
        """Put the question back into the input so it can be resent, and drop a conversation created for it."""
        ui = self.ui
        assert ui is not None
        if created:
            self.assistant.conversations.delete(conversation_id, session_id)
            conversation_id = None
        return {ui.question: question, ui.chatbot: history, ui.current: {"id": conversation_id},
                ui.conversations: self._conversation_list(session_id, conversation_id, lang)}

    def _open_conversation(self, session_id: str, conversation_id: str | None) -> tuple[str, bool]:
        """Return (conversation id, created): the open conversation if it still exists, else a new one."""
        existing = self._existing_conversation(session_id, conversation_id)
        if existing:
            return existing, False
        return self.assistant.conversations.create(session_id).id, True

    # Uploads -----------------------------------------------------------------------------------

    def on_upload(self, files: list[str] | None, target: str | None, new_name: str | None,
                  kb_names: list[str] | None, lang: str, progress: gr.Progress = gr.Progress()) -> tuple:
        """Index uploaded files into the chosen or a new knowledge base, with progress per file and stage."""
        lang = normalize_language(lang)
        name = (new_name or "").strip() or (target or "")
        if not files:
            _warn(translate("error.no_files", lang), lang)
            return (gr.skip(),) * 7
        if not name:
            _warn(translate("ui.upload_no_kb", lang), lang)
            return (gr.skip(),) * 7

        # After a failure the name and files stay in place for a retry.
        report_text, cleared_name, cleared_files = gr.skip(), gr.skip(), gr.skip()
        try:
            report_text, name = self._ingest_upload(files, name, lang, progress)
            cleared_name, cleared_files = "", None
        except LLMUniverseError as error:
            logger.warning("upload into knowledge base %s failed: %s", name, error)
            _warn(error.message(lang), lang)
        except Exception:  # noqa: BLE001 - the visitor gets a short message, the log gets the traceback
            logger.exception("upload into knowledge base %s failed", name)
            _warn(translate("error.internal", lang), lang)

        # The lists are refreshed after a failure too: the knowledge base may have been created before it.
        all_names = self._kb_names()
        chosen = [kb for kb in (kb_names or []) if kb in all_names]
        chosen += [name] if name in all_names and name not in chosen else []
        target_value = name if name in all_names else None
        if target_value is None and chosen:
            target_value = chosen[0]
        return (report_text, gr.update(choices=all_names, value=chosen),
                gr.update(choices=all_names, value=target_value), cleared_name, cleared_files,
                self._kb_overview(lang), chosen)

    def _ingest_upload(self, files: list[str], name: str, lang: str, progress: gr.Progress) -> tuple[str, str]:
        """Create the knowledge base if needed, index the files and return (Markdown summary, KB name)."""
        manager = self.assistant.knowledge_bases
        if manager.find(name) is None:
            name = manager.create(name).name
            _info(translate("ui.kb_created", lang, name=name), lang)
        else:
            name = manager.get(name).name
        paths = [Path(file) for file in files]
        report = manager.ingest(paths, name, progress=UploadProgress(progress, lang),
                                display_names={path: path.name for path in paths})
        text = render_ingest_report(name, report, lang)
        if report.failed:
            _warn(text, lang)
        else:
            _info(text, lang)
        return text, name

    # Shared helpers ----------------------------------------------------------------------------

    def _kb_names(self) -> list[str]:
        return [kb.name for kb in self.assistant.knowledge_bases.list()]

    def _kb_overview(self, lang: str) -> str:
        manager = self.assistant.knowledge_bases
        rows = [{"name": kb.name, "embedding_model": kb.embedding_model, **manager.stats(kb)} for kb in manager.list()]
        return render_kb_table(rows, lang)

    def _existing_conversation(self, session_id: str | None, conversation_id: str | None) -> str | None:
        """Return `conversation_id` if it belongs to this session, else None."""
        if not conversation_id or not _valid_session(session_id):
            return None
        try:
            return self.assistant.conversations.get(conversation_id, session_id).id
        except ConversationNotFound:
            return None

    def _conversation_properties(self, session_id: str | None, conversation_id: str | None, lang: str) -> dict:
        conversations = self.assistant.conversations.list(session_id) if _valid_session(session_id) else []
        return {"choices": conversation_choices(conversations, lang), "value": conversation_id}

    def _conversation_list(self, session_id: str | None, conversation_id: str | None, lang: str):
        return gr.update(**self._conversation_properties(session_id, conversation_id, lang))

    def _history(self, session_id: str | None, conversation_id: str | None, lang: str) -> list[dict]:
        if not conversation_id or not _valid_session(session_id):
            return []
        try:
            return render_messages(self.assistant.conversations.messages(conversation_id, session_id), lang)
        except ConversationNotFound:
            return []

    def _status_text(self, provider: str | None, model: str | None, api_key: str | None, lang: str) -> str:
        """Return one line naming the provider and model that will answer, or why none can."""
        try:
            target = resolve_target(self.settings, provider=_provider_id(provider),
                                    model=(model or "").strip() or None, api_key=(api_key or "").strip() or None)
        except LLMUniverseError as error:
            return translate("ui.model_status_error", lang, error=error.message(lang))
        if target is None:
            name = PROVIDERS["none"].display_name[lang]
        else:
            name = f"{target.spec.display_name[lang]} · {target.model}"
        return translate("ui.model_status", lang, name=name)


class UploadProgress:
    """Adapt the manager's (stage, file name, done, total) callbacks to one gr.Progress bar over all files.

    The stages parse, done and failed count files; embed and write count chunks of the current file.
    """

    def __init__(self, progress: Callable[..., object], lang: str) -> None:
        self.progress = progress
        self.lang = lang
        self.position = 0
        self.file_count = 1

    def __call__(self, stage: str, name: str, done: int, total: int) -> None:
        if stage in {"parse", "done", "failed"}:
            self.file_count = max(total, 1)
            self.position = done if stage == "parse" else max(done - 1, 0)
            within_file = 0.0 if stage == "parse" else 1.0
        else:
            within_file = done / total if total else 1.0
        description = translate(
            "ui.progress", self.lang, stage=translate(f"ui.stage.{stage}", self.lang), name=name,
            position=self.position + 1, total=self.file_count,
        )
        self.progress(min((self.position + within_file) / self.file_count, 1.0), desc=description)


def default_kb_selection(kb_names: list[str]) -> list[str]:
    """Return the knowledge bases selected for a new visitor: the sample KB if present, else the oldest one."""
    if SAMPLE_KB_NAME in kb_names:
        return [SAMPLE_KB_NAME]
    return kb_names[:1]


def new_session_id() -> str:
    """Return a random browser-session id (128 bits, hex). Anyone who has it can read its conversations."""
    return secrets.token_hex(16)


def browser_state_secret(data_dir: Path) -> str:
    """Return the key BrowserState values are encrypted with, created once per data root.

    Gradio sends this key to the browser, so it is no protection: it only has to stay the same across
    restarts so that visitors keep their session. The random session id is what keeps sessions apart.
    """
    path = data_dir / BROWSER_STATE_KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(16)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def create_app(settings: Settings, assistant: Assistant | None = None) -> gr.Blocks:
    """Build the web UI for `settings`, reusing `assistant` when one is already built.

    When mounting the Blocks into another FastAPI app, pass `css=APP_CSS` and `run_history=False`
    to `gr.mount_gradio_app` as `launch` does.
    """
    return WebApp(settings, assistant).build()


def launch(settings: Settings, auth: tuple[str, str] | None = None, allow_public: bool = False) -> None:
    """Index the sample knowledge base on the first start, then serve the UI on settings.host:settings.port.

    A host other than a loopback address requires `auth` (user, password) or `allow_public=True`,
    else ConfigurationError is raised before anything starts. Blocks until the server stops, and raises
    OSError when the port is in use.
    """
    check_public_access(settings.host, auth, allow_public)
    assistant = Assistant(settings)
    if settings.sample_kb:
        index_sample_kb(assistant, settings.language)
    demo = create_app(settings, assistant)
    demo.launch(
        server_name=settings.host, server_port=settings.port, share=False, auth=auth, quiet=True,
        prevent_thread_lock=True, max_file_size=f"{settings.max_upload_mb}mb", css=APP_CSS, run_history=False,
        footer_links=["settings"],
    )
    print(translate("ui.console_serving", settings.language, host=settings.host, port=settings.port), flush=True)
    demo.block_thread()


def check_public_access(host: str, auth: tuple[str, str] | None, allow_public: bool) -> None:
    """Raise ConfigurationError when `host` is reachable from other machines and no login protects it."""
    if _is_loopback(host) or auth is not None:
        return
    if not allow_public:
        raise ConfigurationError(
            name="--host", value=host,
            reason="other machines could reach the UI: set LLM_UNIVERSE_AUTH=user:password, "
            "or LLM_UNIVERSE_AUTH=off to serve without a login",
        )
    logger.warning("serving on %s without a login: anyone who can reach this address can use the UI", host)


def index_sample_kb(assistant: Assistant, lang: str) -> None:
    """Create and index the sample knowledge base on the first start, printing one line per file."""
    started = False

    def show(stage: str, name: str, done: int, total: int) -> None:
        nonlocal started
        if not started:
            print(translate("ui.console_sample_start", lang), flush=True)
            started = True
        if stage in {"done", "failed"}:
            stage_name = translate(f"ui.stage.{stage}", lang)
            print(translate("ui.console_sample_file", lang, done=done, total=total, stage=stage_name, name=name),
                  flush=True)

    report = ensure_sample_kb(assistant.knowledge_bases, progress=show)
    if report is not None:
        print(translate("ui.console_sample_done", lang, files=len(report.added) + len(report.updated),
                        chunks=report.chunks, failed=len(report.failed)), flush=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _valid_session(session_id: object) -> bool:
    return isinstance(session_id, str) and bool(SESSION_ID_PATTERN.match(session_id))


def _provider_id(choice: str | None) -> str | None:
    return None if not choice or choice == DEFAULT_PROVIDER else choice


def _merge(properties: dict[str, dict], extra: dict[str, dict]) -> None:
    for name, values in extra.items():
        properties.setdefault(name, {}).update(values)


def _unique(components: list) -> list:
    return list(dict.fromkeys(components))


def _warn(message: str, lang: str) -> None:
    gr.Warning(message, title=translate("ui.toast_warning", lang))


def _info(message: str, lang: str) -> None:
    gr.Info(message, title=translate("ui.toast_info", lang))


__all__ = ["APP_CSS", "create_app", "launch"]
