"""Gradio web UI: chat over knowledge bases with streamed answers and sources, KB management, zh/en.

Per-visitor state lives in the visitor's browser, never in this module: `gr.BrowserState`
(localStorage) keeps a random session id, the UI language, the open conversation and the selected
knowledge bases. The conversations themselves are stored in SQLite by the `Assistant`, keyed by
that session id, so a reload restores them and another browser sees none of them. Background
jobs (uploads, rebuilds) are owned by the same session id.

The page is assembled here from three panels: `chat.ChatPanel` (sidebar and Chat tab),
`model_settings.ModelSettingsPanel` (inside the Chat tab) and `knowledge.KnowledgePanel`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from pathlib import Path

import gradio as gr

from llm_universe.config import Settings
from llm_universe.errors import ConfigurationError
from llm_universe.i18n import normalize_language, translate
from llm_universe.knowledge_base.jobs import JobRunner
from llm_universe.knowledge_base.manager import SAMPLE_KB_NAME
from llm_universe.knowledge_base.sample import ensure_sample_kb
from llm_universe.service import Assistant
from llm_universe.web.chat import ChatPanel
from llm_universe.web.common import PageState, merge_updates, new_session_id, unique, valid_session
from llm_universe.web.knowledge import KnowledgePanel
from llm_universe.web.model_settings import ModelSettingsPanel

logger = logging.getLogger(__name__)

# Each language is named in itself, so these labels stay the same in every UI language.
LANGUAGE_CHOICES = [("中文", "zh"), ("English", "en")]
BROWSER_STATE_KEY_FILE = "browser_state.key"
DEFAULT_CONCURRENCY = 8

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
.lu-table { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.lu-table th, .lu-table td {
  padding: 0.35em 0.6em; border-bottom: 1px solid var(--border-color-primary); text-align: left;
}
.lu-table th { font-weight: 600; background: var(--background-fill-secondary); }
.lu-table .lu-number { text-align: right; font-variant-numeric: tabular-nums; }
.lu-table .lu-nowrap { white-space: nowrap; }
.lu-table td.lu-wrap { min-width: 10em; }
.lu-empty { opacity: 0.7; }
#lu-embedding-notice { border-left: 4px solid #e0a100; background: #fff8e1; color: #4d3b00; padding: 0.4em 0.8em; }
.lu-status { padding: 0.1em 0.5em; border-radius: 0.8em; font-size: 0.85em; white-space: nowrap; }
.lu-status-ok { background: #e3f4e6; color: #1e6b2c; }
.lu-status-failed { background: #fbe4e1; color: #a12b1c; }
.lu-status-busy { background: #fff2d6; color: #7a5200; }
.lu-job { border: 1px solid var(--border-color-primary); border-radius: 0.5em; padding: 0.6em 0.8em; margin: 0.4em 0; }
.lu-job-title { font-weight: 600; }
.lu-job progress { width: 100%; height: 0.8em; }
.lu-job-detail { font-size: 0.9em; opacity: 0.85; }
.lu-source summary { cursor: pointer; }
.lu-source mark { background: #fff1a8; color: inherit; padding: 0 0.1em; }
.lu-source-correction { border-left-color: #2e86de; }
.lu-cite { color: var(--color-accent, #2563eb); font-size: 0.85em; vertical-align: super; cursor: help; }
.lu-answer-meta { margin-top: 0.4em; font-size: 0.85em; display: flex; flex-wrap: wrap; gap: 0.4em 0.8em; }
.lu-label, .lu-badge { padding: 0.05em 0.5em; border-radius: 0.8em; white-space: nowrap; font-weight: normal; }
.lu-label-knowledge_base { background: #e3f4e6; color: #1e6b2c; }
.lu-label-general_knowledge { background: #fff2d6; color: #7a5200; }
.lu-label-not_found { background: #eceff1; color: #37474f; }
.lu-badge { font-size: 0.85em; background: #eceff1; color: #37474f; }
.lu-badge-correction { background: #e1efff; color: #174a8c; }
.lu-retrieval-question { opacity: 0.8; }
.lu-trace h4 { margin: 0.8em 0 0.3em; }
.lu-trace pre { white-space: pre-wrap; font-size: 0.85em; max-height: 24em; overflow: auto; }
.lu-trace-table th { width: 12em; }
.lu-trace-chunk:not(.lu-trace-selected) { opacity: 0.6; }
"""


class AssistantBlocks(gr.Blocks):
    """Blocks that also stop the app's background job runner when the server closes."""

    def __init__(self, runner: JobRunner, **kwargs) -> None:
        super().__init__(**kwargs)
        self.job_runner = runner

    def close(self, verbose: bool = True) -> None:
        """Close the server, then cancel running jobs and wait for their workers to stop."""
        super().close(verbose)
        self.job_runner.shutdown()


class WebApp:
    """Web UI builder: the shared `Assistant`, one `JobRunner` and the panels (layout only, no visitor data)."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.assistant = assistant or Assistant(settings)
        self.runner = JobRunner(self.assistant.knowledge_bases, workers=1)
        # Files that a killed earlier run left half-indexed are rolled back and indexed again in the background.
        self.runner.submit_resume(owner="startup")
        self.model_settings = ModelSettingsPanel(settings)
        self.chat = ChatPanel(self.assistant, self.model_settings)
        self.knowledge = KnowledgePanel(settings, self.assistant.knowledge_bases, self.runner, self.assistant)

    def build(self) -> gr.Blocks:
        """Create the Blocks with every component and event listener."""
        lang = normalize_language(self.settings.language)
        with AssistantBlocks(self.runner, title=translate("ui.page_title", lang), analytics_enabled=False) as demo:
            self.page = self._build_layout(lang)
            self._wire_events(demo)
        # Gradio's run history would copy every input, including API keys, into localStorage.
        demo.run_history = False
        demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY)
        return demo

    def _build_layout(self, lang: str) -> PageState:
        secret = browser_state_secret(self.settings.data_dir)
        states = {
            name: gr.BrowserState(default, storage_key=f"llm_universe.{name}", secret=secret)
            for name, default in [("session", None), ("language", None), ("current", {"id": None}),
                                  ("selected", None), ("model", None)]
        }
        with gr.Row(equal_height=True):
            self.header = gr.Markdown(translate("ui.header", lang), elem_id="lu-header")
            language_radio = gr.Radio(LANGUAGE_CHOICES, value=lang, label=translate("ui.language", lang),
                                      elem_id="lu-language", scale=0, min_width=220)
        with gr.Row():
            with gr.Column(scale=1, min_width=220, elem_id="lu-sidebar"):
                self.chat.build_sidebar(lang)
            with gr.Column(scale=4):
                with gr.Tabs(elem_id="lu-tabs"):
                    self.chat.build_tab(lang)
                    self.knowledge.build_tab(lang)
        return PageState(**states, language_radio=language_radio)

    def _wire_events(self, demo: gr.Blocks) -> None:
        page = self.page
        outputs = unique([page.session, page.language, page.current, page.selected, page.model,
                          page.language_radio, self.header, *self.chat.page_outputs,
                          *self.model_settings.page_outputs, *self.knowledge.page_outputs])
        demo.load(self.on_load, inputs=[page.session, page.language, page.current, page.selected, page.model],
                  outputs=outputs, api_visibility="private", show_progress="hidden")
        page.language_radio.input(
            self.on_language,
            inputs=[page.language_radio, page.session, page.current, self.knowledge.kb_manage,
                    *self.model_settings.inputs, self.chat.trace_state],
            outputs=outputs, api_visibility="private", show_progress="hidden",
        )
        # Another visitor may have created, renamed or deleted knowledge bases meanwhile.
        self.chat.tab.select(self.knowledge.selection_updates, inputs=[self.chat.kb_select],
                             outputs=[self.chat.kb_select, page.selected], api_visibility="private",
                             show_progress="hidden")
        self.chat.wire(page)
        self.model_settings.wire(page.language_radio, page.model)
        self.knowledge.wire(page, self.chat.kb_select)

    def on_load(self, session_id: str | None, lang: str | None, current: dict | None,
                selected: list[str] | None, model_choice: dict | None) -> dict:
        """Restore a visitor's page from BrowserState: session, language, conversation, KBs, model settings, jobs."""
        page = self.page
        session_id = session_id if valid_session(session_id) else new_session_id()
        lang = normalize_language(lang or self.settings.language)
        conversation_id = self.chat.existing_conversation(session_id, (current or {}).get("id"))
        kb_names = self.knowledge.kb_names()
        chosen = [name for name in (selected or []) if name in kb_names] or default_kb_selection(kb_names)

        updates = self._page_updates(session_id, conversation_id, chosen[0] if chosen else None, lang)
        merge_updates(updates, self.chat.page_updates(session_id, conversation_id, lang, kb_choices=kb_names,
                                                      kb_value=chosen))
        merge_updates(updates, self.model_settings.page_updates(model_choice, None, lang, restore=True))
        merge_updates(updates, {page.session: session_id, page.current: {"id": conversation_id},
                                page.selected: chosen, page.language_radio: gr.update(value=lang)})
        return updates

    def on_language(self, lang: str, session_id: str | None, current: dict | None, kb_name: str | None,
                    provider: str, model: str, temperature: float, api_key: str, trace: dict | None) -> dict:
        """Re-label every component in `lang`, re-render the open conversation and trace, and remember the choice."""
        lang = normalize_language(lang)
        updates = self._page_updates(session_id, (current or {}).get("id"), kb_name, lang)
        merge_updates(updates, self.chat.page_updates(session_id, (current or {}).get("id"), lang, trace=trace))
        choice = {"provider": provider, "model": model, "temperature": temperature}
        merge_updates(updates, self.model_settings.page_updates(choice, api_key, lang, restore=False))
        return updates

    def _page_updates(self, session_id: str | None, conversation_id: str | None, kb_name: str | None,
                      lang: str) -> dict:
        updates = self.knowledge.page_updates(session_id, kb_name, lang)
        return merge_updates(updates, {self.header: translate("ui.header", lang),
                                       self.page.language_radio: gr.update(label=translate("ui.language", lang)),
                                       self.page.language: lang})


def default_kb_selection(kb_names: list[str]) -> list[str]:
    """Return the knowledge bases selected for a new visitor: the sample KB if present, else the oldest one."""
    if SAMPLE_KB_NAME in kb_names:
        return [SAMPLE_KB_NAME]
    return kb_names[:1]


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


__all__ = ["APP_CSS", "create_app", "launch"]
