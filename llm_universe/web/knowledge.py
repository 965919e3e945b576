"""The Knowledge tab: create, rename and delete knowledge bases, upload files as background jobs, manage files.

Uploads and rebuilds run in the app's `JobRunner`, owned by the visitor's session id, so the chat
stays usable meanwhile. A `gr.Timer` polls the jobs of this session once a second and is switched
off when none is queued or running.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from llm_universe.config import ANSWER_POLICIES, Settings
from llm_universe.documents.loaders import SUPPORTED_EXTENSIONS
from llm_universe.embeddings.registry import describe_embeddings
from llm_universe.errors import EmbeddingMismatchError, LLMUniverseError
from llm_universe.i18n import normalize_language, translate
from llm_universe.knowledge_base.archives import ARCHIVE_SUFFIXES
from llm_universe.knowledge_base.jobs import Job, JobRunner
from llm_universe.knowledge_base.manager import KnowledgeBase, KnowledgeBaseManager, sanitize_file_name
from llm_universe.service import Assistant
from llm_universe.web.common import PageState, info, label_updates, merge_updates, valid_session, warn
from llm_universe.web.knowledge_render import (
    ACTIVE_JOB_STATUSES,
    markdown_text,
    render_file_table,
    render_job_results,
    render_job_summary,
    render_jobs,
    render_kb_table,
)

logger = logging.getLogger(__name__)

JOB_POLL_SECONDS = 1.0
# Re-indexing runs inside the request (JobRunner has no forced re-index), so it gets its own small limit.
REINDEX_CONCURRENCY = 2
UPLOADABLE_SUFFIXES = {*SUPPORTED_EXTENSIONS, *ARCHIVE_SUFFIXES}


class KnowledgePanel:
    """The Knowledge tab with its event handlers; `runner` is shared by every visitor of the app."""

    def __init__(self, settings: Settings, manager: KnowledgeBaseManager, runner: JobRunner,
                 assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.manager = manager
        self.runner = runner
        # Answer policies are read and set through the Assistant; without one the selector stays empty.
        self.assistant = assistant
        # Queued and running jobs submitted from the UI by any session: renaming, deleting and file
        # actions on a knowledge base wait until its jobs end.
        self._active_jobs: list[Job] = []
        self._active_jobs_guard = threading.Lock()

    # Layout ------------------------------------------------------------------------------------

    def build_tab(self, lang: str) -> None:
        """Create the Knowledge tab inside the current Blocks context, labelled in `lang`."""
        labels = self.label_properties(lang)
        with gr.Tab(id="knowledge", elem_id="lu-knowledge-tab", **labels["tab"]) as self.tab:
            self.kb_heading = gr.Markdown(**labels["kb_heading"])
            self.kb_table = gr.HTML(elem_id="lu-kb-table")
            with gr.Row(equal_height=True):
                self.new_kb_name = gr.Textbox(elem_id="lu-new-kb", show_label=False, scale=4, **labels["new_kb_name"])
                self.create = gr.Button(elem_id="lu-create-kb", scale=1, min_width=140, **labels["create"])
            self.kb_manage = gr.Dropdown([], value=None, elem_id="lu-kb-manage", **labels["kb_manage"])
            self.answer_policy = gr.Dropdown(value=None, elem_id="lu-answer-policy", **labels["answer_policy"])
            with gr.Row(equal_height=True):
                self.rename_to = gr.Textbox(elem_id="lu-rename-to", show_label=False, scale=4, **labels["rename_to"])
                self.rename = gr.Button(elem_id="lu-rename-kb", scale=1, min_width=110, **labels["rename"])
                self.delete = gr.Button(variant="stop", elem_id="lu-delete-kb", scale=1, min_width=110,
                                        **labels["delete"])
            with gr.Group(visible=False, elem_id="lu-delete-confirm") as self.delete_confirm:
                self.delete_question = gr.Markdown(elem_id="lu-delete-question")
                with gr.Row():
                    self.confirm_delete = gr.Button(variant="stop", elem_id="lu-confirm-delete",
                                                    **labels["confirm_delete"])
                    self.cancel_delete = gr.Button(elem_id="lu-cancel-delete", **labels["cancel_delete"])
            self.embedding_notice = gr.Markdown(visible=False, elem_id="lu-embedding-notice")
            self.rebuild = gr.Button(visible=False, elem_id="lu-rebuild", **labels["rebuild"])
            self._build_upload(labels)
            self._build_files(labels)
        self.timer = gr.Timer(JOB_POLL_SECONDS, active=False)
        self.watched = gr.State([])
        self.pending_delete = gr.State(None)

    def _build_upload(self, labels: dict[str, dict]) -> None:
        self.upload_heading = gr.Markdown(elem_id="lu-upload-heading")
        with gr.Row():
            self.files = gr.File(file_count="multiple", elem_id="lu-files", scale=1, **labels["files"])
            self.folder = gr.File(file_count="directory", elem_id="lu-folder", scale=1, **labels["folder"])
        self.upload_hint = gr.Markdown(elem_id="lu-upload-hint", **labels["upload_hint"])
        self.upload = gr.Button(variant="primary", elem_id="lu-upload", **labels["upload"])
        self.jobs = gr.HTML(elem_id="lu-jobs")
        self.cancel_jobs = gr.Button(variant="stop", size="sm", visible=False, elem_id="lu-cancel-jobs",
                                     **labels["cancel_jobs"])
        self.results = gr.Markdown(elem_id="lu-upload-result")

    def _build_files(self, labels: dict[str, dict]) -> None:
        self.files_heading = gr.Markdown(elem_id="lu-files-heading")
        self.file_table = gr.HTML(elem_id="lu-file-table")
        with gr.Row(equal_height=True):
            self.file_select = gr.Dropdown([], value=None, elem_id="lu-file-select", scale=4, **labels["file_select"])
            self.remove_file = gr.Button(variant="stop", elem_id="lu-remove-file", scale=1, min_width=110,
                                         **labels["remove_file"])
            self.reindex_file = gr.Button(elem_id="lu-reindex-file", scale=1, min_width=110, **labels["reindex_file"])

    def label_properties(self, lang: str) -> dict[str, dict]:
        """Return {attribute name: properties} for every translated label of the tab."""
        t = lambda key, **params: translate(key, lang, **params)  # noqa: E731 - local shorthand
        types = " ".join(sorted(UPLOADABLE_SUFFIXES))
        return {
            "tab": {"label": t("ui.tab_knowledge")},
            "kb_heading": {"value": t("ui.kb_overview")},
            "new_kb_name": {"label": t("ui.kb_new_name"), "placeholder": t("ui.kb_new_placeholder")},
            "create": {"value": t("ui.kb_create")},
            "kb_manage": {"label": t("ui.kb_manage"), "info": t("ui.kb_manage_info")},
            "answer_policy": {"label": t("ui.answer_policy"), "info": t("ui.answer_policy_info"),
                              "choices": [(t(f"ui.policy.{policy}"), policy) for policy in ANSWER_POLICIES]},
            "rename_to": {"label": t("ui.kb_rename_to"), "placeholder": t("ui.kb_rename_placeholder")},
            "rename": {"value": t("ui.kb_rename")},
            "delete": {"value": t("ui.kb_delete")},
            "confirm_delete": {"value": t("ui.kb_delete_confirm")},
            "cancel_delete": {"value": t("ui.cancel")},
            "rebuild": {"value": t("ui.kb_rebuild")},
            "files": {"label": t("ui.files")},
            "folder": {"label": t("ui.folder")},
            "upload_hint": {"value": t("ui.upload_hint", types=types, max_mb=self.settings.max_upload_mb)},
            "upload": {"value": t("ui.upload")},
            "cancel_jobs": {"value": t("ui.jobs_cancel")},
            "file_select": {"label": t("ui.file_select")},
            "remove_file": {"value": t("ui.file_remove")},
            "reindex_file": {"value": t("ui.file_reindex")},
        }

    # Page state --------------------------------------------------------------------------------

    def kb_names(self) -> list[str]:
        """Return the names of every knowledge base, oldest first."""
        return [kb.name for kb in self.manager.list()]

    def view_updates(self, kb_name: str | None, lang: str) -> dict:
        """Return updates showing knowledge base `kb_name` (or the first one) and the list of all of them."""
        kbs = self.manager.list()
        names = [kb.name for kb in kbs]
        if kb_name not in names:
            kb_name = names[0] if names else None
        kb = next((kb for kb in kbs if kb.name == kb_name), None)
        rows = self._file_rows(kb_name)
        notice = self._embedding_notice(kb, lang) if kb else None
        heading_key = "ui.files_heading" if kb_name else "ui.files_heading_none"
        upload_key = "ui.upload_heading" if kb_name else "ui.upload_heading_none"
        return {
            self.kb_table: render_kb_table([self._kb_row(kb) for kb in kbs], lang),
            self.kb_manage: gr.update(choices=names, value=kb_name),
            self.answer_policy: gr.update(value=self._policy(kb_name)),
            self.files_heading: translate(heading_key, lang, kb=_markdown_name(kb_name)),
            self.upload_heading: translate(upload_key, lang, kb=_markdown_name(kb_name)),
            self.file_table: render_file_table(kb_name, rows, lang),
            self.file_select: gr.update(choices=[row["name"] for row in rows], value=None),
            self.embedding_notice: gr.update(value=notice or "", visible=notice is not None),
            self.rebuild: gr.update(visible=notice is not None),
            self.delete_confirm: gr.update(visible=False),
            self.pending_delete: None,
        }

    def selection_updates(self, selection: list[str] | None) -> dict:
        """Return updates of the chat's knowledge-base choices, keeping the selected ones that still exist."""
        names = self.kb_names()
        chosen = [name for name in (selection or []) if name in names]
        return {self.chat_kb_select: gr.update(choices=names, value=chosen), self.page.selected: chosen}

    def jobs_updates(self, session_id: str | None, lang: str) -> dict:
        """Return the progress and results of this session's jobs, and start or stop the poll timer."""
        jobs = self.runner.jobs(session_id) if valid_session(session_id) else []
        active = [job for job in jobs if job.status in ACTIVE_JOB_STATUSES]
        return {
            self.jobs: render_jobs(jobs, lang),
            self.cancel_jobs: gr.update(visible=bool(active)),
            self.results: render_job_results(jobs, lang),
            self.timer: gr.Timer(active=bool(active)),
        }

    def page_updates(self, session_id: str | None, kb_name: str | None, lang: str) -> dict:
        """Return every update of the tab for a page load or a language switch."""
        updates = label_updates(vars(self), self.label_properties(lang))
        merge_updates(updates, self.view_updates(kb_name, lang))
        merge_updates(updates, self.jobs_updates(session_id, lang))
        jobs = self.runner.jobs(session_id) if valid_session(session_id) else []
        updates[self.watched] = [job.id for job in jobs if job.status in ACTIVE_JOB_STATUSES]
        return updates

    @property
    def page_outputs(self) -> list:
        """Every component `page_updates` can update."""
        labelled = [getattr(self, name) for name in self.label_properties("zh")]
        return labelled + self.view_outputs + [self.jobs, self.cancel_jobs, self.results, self.timer, self.watched]

    @property
    def view_outputs(self) -> list:
        """Every component `view_updates` updates."""
        return [self.kb_table, self.kb_manage, self.answer_policy, self.files_heading, self.upload_heading, self.file_table,
                self.file_select, self.embedding_notice, self.rebuild, self.delete_confirm, self.pending_delete]

    # Events ------------------------------------------------------------------------------------

    def wire(self, page: PageState, chat_kb_select: gr.Dropdown) -> None:
        """Attach the event listeners; `chat_kb_select` is the Chat tab's knowledge-base selection."""
        self.page = page
        self.chat_kb_select = chat_kb_select
        lang = page.language_radio
        view = self.view_outputs
        selection = [chat_kb_select, page.selected]
        common = {"api_visibility": "private", "show_progress": "hidden"}
        self.kb_manage.input(self.on_manage, inputs=[self.kb_manage, lang], outputs=view, **common)
        self.answer_policy.input(self.on_answer_policy, inputs=[self.kb_manage, self.answer_policy, lang],
                                 outputs=[self.answer_policy], **common)
        gr.on([self.create.click, self.new_kb_name.submit], self.on_create,
              inputs=[self.new_kb_name, chat_kb_select, lang], outputs=[*view, *selection, self.new_kb_name], **common)
        gr.on([self.rename.click, self.rename_to.submit], self.on_rename,
              inputs=[self.kb_manage, self.rename_to, chat_kb_select, lang],
              outputs=[*view, *selection, self.rename_to], **common)
        self.delete.click(self.on_delete_request, inputs=[self.kb_manage, lang],
                          outputs=[self.delete_confirm, self.delete_question, self.pending_delete], **common)
        self.confirm_delete.click(self.on_delete, inputs=[self.pending_delete, chat_kb_select, lang],
                                  outputs=[*view, *selection], **common)
        self.cancel_delete.click(lambda: (gr.update(visible=False), None),
                                 outputs=[self.delete_confirm, self.pending_delete], **common)
        self._wire_jobs(page, view, selection)
        self.remove_file.click(self.on_remove_file, inputs=[self.kb_manage, self.file_select, lang], outputs=view,
                               **common)
        self.reindex_file.click(self.on_reindex_file, inputs=[self.kb_manage, self.file_select, lang], outputs=view,
                                api_visibility="private", show_progress_on=[self.file_table],
                                concurrency_limit=REINDEX_CONCURRENCY)

    def _wire_jobs(self, page: PageState, view: list, selection: list) -> None:
        lang = page.language_radio
        jobs = [self.jobs, self.cancel_jobs, self.results, self.timer, self.watched]
        common = {"api_visibility": "private", "show_progress": "hidden"}
        self.upload.click(
            self.on_upload,
            inputs=[self.files, self.folder, self.kb_manage, page.session, self.chat_kb_select, self.watched,
                    lang],
            outputs=[*view, *selection, *jobs, self.files, self.folder], **common,
        )
        self.rebuild.click(self.on_rebuild, inputs=[self.kb_manage, page.session, self.watched, lang],
                           outputs=[*view, *jobs], **common)
        self.timer.tick(self.on_tick, inputs=[page.session, self.watched, self.kb_manage, lang],
                        outputs=[*view, *jobs], **common)
        self.cancel_jobs.click(self.on_cancel_jobs, inputs=[page.session, lang], outputs=jobs, **common)

    def on_manage(self, kb_name: str | None, lang: str) -> dict:
        """Show the chosen knowledge base's files and embedding model."""
        return self.view_updates(kb_name, normalize_language(lang))

    def on_answer_policy(self, kb_name: str | None, policy: str | None, lang: str) -> dict:
        """Set how the current knowledge base answers when it holds nothing relevant."""
        lang = normalize_language(lang)
        if self.assistant is None or self.manager.find(kb_name or "") is None:
            warn(translate("ui.kb_none_selected", lang), lang)
            return {self.answer_policy: gr.update(value=None)}
        ok, _ = self._attempt(lambda: self.assistant.set_answer_policy(kb_name, policy), lang,
                              "setting the answer policy")
        if ok:
            info(translate("ui.answer_policy_saved", lang, kb=kb_name, policy=translate(f"ui.policy.{policy}", lang)),
                 lang)
        return {self.answer_policy: gr.update(value=self._policy(kb_name))}

    def on_create(self, name: str, selection: list[str] | None, lang: str) -> dict:
        """Create an empty knowledge base and make it the current one."""
        lang = normalize_language(lang)
        ok, created = self._attempt(lambda: self.manager.create(name or ""), lang, "creating knowledge base")
        if not ok:
            return {self.new_kb_name: gr.skip()}
        info(translate("ui.kb_created", lang, name=created.name), lang)
        return {**self.view_updates(created.name, lang), **self.selection_updates(selection), self.new_kb_name: ""}

    def on_rename(self, kb_name: str | None, new_name: str, selection: list[str] | None, lang: str) -> dict:
        """Rename the current knowledge base; the chat keeps it selected under its new name."""
        lang = normalize_language(lang)
        if not self._check_idle(kb_name, lang):
            return {self.rename_to: gr.skip()}
        ok, renamed = self._attempt(lambda: self.manager.rename(kb_name or "", new_name or ""), lang,
                                    "renaming knowledge base")
        if not ok:
            return {self.rename_to: gr.skip()}
        info(translate("ui.kb_renamed", lang, old=kb_name, new=renamed.name), lang)
        selection = [renamed.name if name == kb_name else name for name in (selection or [])]
        return {**self.view_updates(renamed.name, lang), **self.selection_updates(selection), self.rename_to: ""}

    def on_delete_request(self, kb_name: str | None, lang: str) -> tuple:
        """Ask for confirmation, naming what the deletion removes."""
        lang = normalize_language(lang)
        kb = self.manager.find(kb_name or "")
        if kb is None:
            warn(translate("ui.kb_none_selected", lang), lang)
            return gr.skip(), gr.skip(), None
        stats = self.manager.stats(kb)
        question = translate("ui.kb_delete_question", lang, kb=_markdown_name(kb.name), files=stats["files"],
                             chunks=stats["chunks"])
        return gr.update(visible=True), question, kb.name

    def on_delete(self, kb_name: str | None, selection: list[str] | None, lang: str) -> dict:
        """Delete the knowledge base named in the confirmation, with its files and indexes."""
        lang = normalize_language(lang)
        if not kb_name or not self._check_idle(kb_name, lang):
            return {self.delete_confirm: gr.update(visible=False), self.pending_delete: None}
        ok, _ = self._attempt(lambda: self.manager.delete(kb_name), lang, "deleting knowledge base")
        if not ok:
            return {self.delete_confirm: gr.update(visible=False), self.pending_delete: None}
        info(translate("ui.kb_deleted", lang, name=kb_name), lang)
        return {**self.view_updates(None, lang), **self.selection_updates(selection)}

    def on_upload(self, files: list[str] | None, folder: list[str] | None, kb_name: str | None,
                  session_id: str | None, selection: list[str] | None, watched: list[str], lang: str) -> dict:
        """Start a background job indexing the chosen files, folder and zip archives into the current KB."""
        lang = normalize_language(lang)
        if self.manager.find(kb_name or "") is None:
            warn(translate("ui.upload_no_kb", lang), lang)
            return {}
        if not files and not folder:
            warn(translate("error.no_files", lang), lang)
            return {}
        if not valid_session(session_id):
            warn(translate("ui.session_missing", lang), lang)
            return {}

        names, skipped = upload_names([Path(file) for file in files or []], [Path(file) for file in folder or []])
        if skipped:
            separator = "、" if lang == "zh" else ", "
            info(translate("ui.upload_skipped_types", lang, count=len(skipped), names=separator.join(skipped[:10])),
                 lang)
        if not names:
            return {self.folder: None}

        def add_skipped(job: Job) -> None:
            # The folder files skipped here belong in the job's report beside those the manager skipped.
            if job.report is not None:
                job.report.skipped.extend(skipped)

        job = self.runner.submit_ingest(list(names), kb_name, session_id, display_names=names, on_finish=add_skipped)
        self._track(job)
        logger.info("session %s… started ingest job %s: %d files into %s", session_id[:8], job.id, len(names), kb_name)
        chosen = list(selection or [])
        if kb_name not in chosen:
            chosen.append(kb_name)
        return {**self.view_updates(kb_name, lang), **self.selection_updates(chosen),
                **self.jobs_updates(session_id, lang), self.watched: [*watched, job.id], self.files: None,
                self.folder: None}

    def on_rebuild(self, kb_name: str | None, session_id: str | None, watched: list[str], lang: str) -> dict:
        """Start a background job re-embedding the current knowledge base with the configured model."""
        lang = normalize_language(lang)
        if self.manager.find(kb_name or "") is None or not valid_session(session_id):
            warn(translate("ui.kb_none_selected", lang), lang)
            return {}
        job = self.runner.submit_rebuild(kb_name, self.settings.embedding_provider, session_id)
        self._track(job)
        logger.info("session %s… started rebuild job %s for %s", session_id[:8], job.id, kb_name)
        return {**self.jobs_updates(session_id, lang), self.watched: [*watched, job.id],
                self.rebuild: gr.update(visible=False)}

    def on_tick(self, session_id: str | None, watched: list[str], kb_name: str | None, lang: str) -> dict:
        """Show this session's job progress; when a watched job ends, announce it and refresh the tables."""
        lang = normalize_language(lang)
        finished = [job for job in map(self.runner.get, watched or []) if job and job.status not in ACTIVE_JOB_STATUSES]
        for job in finished:
            announce = warn if job.status == "failed" or (job.report and job.report.failed) else info
            announce(render_job_summary(job, lang), lang)
        updates = self.jobs_updates(session_id, lang)
        updates[self.watched] = [job_id for job_id in watched or [] if job_id not in {job.id for job in finished}]
        view = self.view_updates(kb_name, lang)
        if not finished:
            # Only the tables change while jobs run; re-sending the dropdowns would close one being used.
            view = {component: view[component] for component in (self.kb_table, self.file_table)}
        return {**view, **updates}

    def on_cancel_jobs(self, session_id: str | None, lang: str) -> dict:
        """Ask every queued or running job of this session to stop."""
        lang = normalize_language(lang)
        if not valid_session(session_id):
            return {}
        cancelled = [job.id for job in self.runner.jobs(session_id) if self.runner.cancel(job.id, session_id)]
        if cancelled:
            info(translate("ui.jobs_cancelling", lang, count=len(cancelled)), lang)
        return self.jobs_updates(session_id, lang)

    def on_remove_file(self, kb_name: str | None, file_name: str | None, lang: str) -> dict:
        """Remove a file, its chunks and its stored copy from the current knowledge base."""
        lang = normalize_language(lang)
        if not file_name:
            warn(translate("ui.file_none_selected", lang), lang)
            return {}
        if not self._check_idle(kb_name, lang):
            return {}
        ok, removed = self._attempt(lambda: self.manager.remove(file_name, kb_name or ""), lang, "removing a file")
        if ok:
            info(translate("ui.file_removed", lang, name=file_name, chunks=removed), lang)
        return self.view_updates(kb_name, lang)

    def on_reindex_file(self, kb_name: str | None, file_name: str | None, lang: str,
                        progress: gr.Progress = gr.Progress()) -> dict:
        """Parse, split and embed a stored file again, showing progress over the file table."""
        lang = normalize_language(lang)
        if not file_name:
            warn(translate("ui.file_none_selected", lang), lang)
            return {}
        if not self._check_idle(kb_name, lang):
            return {}

        def show(stage: str, name: str, done: int, total: int) -> None:
            fraction = done / total if total and stage in {"embed", "write"} else None
            stage_name = translate(f"ui.stage.{stage}", lang)
            progress(fraction, desc=translate("ui.job_stage", lang, stage=stage_name, name=name))

        ok, report = self._attempt(lambda: self.manager.reindex(file_name, kb_name or "", progress=show), lang,
                                   "re-indexing a file")
        if ok and report.failed:
            warn(translate("ui.upload_failed_file", lang, name=file_name, error=report.failed[0]["error"]), lang)
        elif ok:
            info(translate("ui.file_reindexed", lang, name=file_name, chunks=report.chunks), lang)
        return self.view_updates(kb_name, lang)

    # Helpers -----------------------------------------------------------------------------------

    def _policy(self, kb_name: str | None) -> str | None:
        if self.assistant is None or kb_name is None:
            return None
        try:
            return self.assistant.answer_policy(kb_name)
        except LLMUniverseError:
            return None

    def _kb_row(self, kb: KnowledgeBase) -> dict:
        return {"name": kb.name, "embedding_model": kb.embedding_model, "updated_at": kb.updated_at,
                "default_model": self.manager.uses_default_embeddings(kb), **self.manager.stats(kb)}

    def _file_rows(self, kb_name: str | None) -> list[dict]:
        if kb_name is None:
            return []
        try:
            return self.manager.files(kb_name)
        except LLMUniverseError:
            return []

    def _embedding_notice(self, kb: KnowledgeBase, lang: str) -> str | None:
        """Return why the knowledge base should be rebuilt with the configured model, or None."""
        try:
            self.manager.check_embeddings(kb)
        except EmbeddingMismatchError as error:
            return error.message(lang)
        if self.manager.uses_default_embeddings(kb):
            return None
        default = describe_embeddings(self.settings.embedding_provider, self.settings)
        return translate("ui.kb_other_model_notice", lang, kb=_markdown_name(kb.name), model=kb.embedding_model,
                                 default=default.model)

    def _track(self, job: Job) -> None:
        with self._active_jobs_guard:
            self._active_jobs = [known for known in self._active_jobs if known.status in ACTIVE_JOB_STATUSES]
            self._active_jobs.append(job)

    def _check_idle(self, kb_name: str | None, lang: str) -> bool:
        """Return True when no job of any session is queued or running on `kb_name`; else warn and return False."""
        with self._active_jobs_guard:
            busy = any(job.kb_name == kb_name and job.status in ACTIVE_JOB_STATUSES for job in self._active_jobs)
        if busy:
            warn(translate("ui.kb_busy", lang, name=kb_name), lang)
        return not busy

    @staticmethod
    def _attempt(action: Callable[[], object], lang: str, action_name: str) -> tuple[bool, object]:
        """Run `action` and return (True, its result), or show the error as a toast and return (False, None)."""
        try:
            return True, action()
        except LLMUniverseError as error:
            logger.warning("%s failed: %s", action_name, error)
            warn(error.message(lang), lang)
        except Exception:  # noqa: BLE001 - the visitor gets a short message, the log gets the traceback
            logger.exception("%s failed", action_name)
            warn(translate("error.internal", lang), lang)
        return False, None


def upload_names(files: list[Path], folder: list[Path]) -> tuple[dict[Path, str], list[str]]:
    """Return ({uploaded path: file name to store}, names skipped) for an upload.

    Files chosen one by one are all kept, so an unsupported type is reported as a failure. Folder
    files of unsupported types are skipped. The browser sends folder files without their sub-folder,
    so a name that repeats within one upload gets " (2)", " (3)" … before its suffix instead of
    replacing the file before it.
    """
    names: dict[Path, str] = {}
    used_names: set[str] = set()
    skipped: list[str] = []
    for path, from_folder in [*((path, False) for path in files), *((path, True) for path in folder)]:
        name = sanitize_file_name(path.name)
        if from_folder and Path(name).suffix.lower() not in UPLOADABLE_SUFFIXES:
            skipped.append(name)
            continue
        candidate, number = name, 1
        while candidate in used_names:
            number += 1
            candidate = f"{Path(name).stem} ({number}){Path(name).suffix}"
        used_names.add(candidate)
        names[path] = candidate
    return names, skipped


def _markdown_name(name: str | None) -> str:
    """Escape a knowledge-base name for Markdown headings and messages."""
    return markdown_text(name or "")
