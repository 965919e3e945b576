"""Turn knowledge bases, file registry rows and background jobs into the HTML the Knowledge tab shows.

Pure functions without Gradio. Every value that comes from a user (knowledge-base and file names,
failure reasons) is HTML-escaped here.
"""

from __future__ import annotations

import html
import time
from datetime import datetime

from llm_universe.i18n import translate
from llm_universe.knowledge_base.jobs import Job
from llm_universe.knowledge_base.manager import IngestReport

# File registry statuses, in the order a file passes through them.
FILE_STATUSES = ("pending", "parsing", "ocr", "splitting", "embedding", "indexed", "failed")
BUSY_STATUSES = {"pending", "parsing", "ocr", "splitting", "embedding"}
ACTIVE_JOB_STATUSES = {"queued", "running"}
# Stages whose (done, total) count pages or chunks within one file, by the unit's catalog key.
STAGE_UNITS = {"ocr": "ui.unit_pages", "embed": "ui.unit_chunks", "write": "ui.unit_chunks"}
MAX_LISTED_FILES = 20
MIN_FRACTION_FOR_ESTIMATE = 0.02


def render_kb_table(rows: list[dict], lang: str) -> str:
    """Return an HTML table of knowledge bases.

    Each row has name, files, chunks, failed_files, size_bytes, embedding_model, updated_at and
    `default_model` (False marks a knowledge base built with another model than the configured one).
    """
    if not rows:
        return f'<p class="lu-empty">{_text("ui.kb_none", lang)}</p>'
    headers = ["ui.kb_column_name", "ui.kb_column_files", "ui.kb_column_chunks", "ui.kb_column_failed",
               "ui.kb_column_embedding", "ui.kb_column_size", "ui.kb_column_updated"]
    body = []
    for row in rows:
        model = html.escape(str(row["embedding_model"]))
        if not row.get("default_model", True):
            model += f' <span class="lu-warning-mark" title="{_text("ui.kb_other_model", lang)}">⚠️</span>'
        cells = [html.escape(row["name"]), str(row["files"]), str(row["chunks"]), str(row["failed_files"]), model,
                 format_size(row["size_bytes"]), format_time(row["updated_at"])]
        body.append(cells)
    return _table("lu-kb-rows", headers, body, lang, numeric={1, 2, 3, 5}, wrap={0, 4})


def render_file_table(kb_name: str | None, rows: list[dict], lang: str) -> str:
    """Return an HTML table of a knowledge base's files with their status, counts and failure reasons."""
    if kb_name is None:
        return f'<p class="lu-empty">{_text("ui.files_no_kb", lang)}</p>'
    if not rows:
        return f'<p class="lu-empty">{_text("ui.files_none", lang, kb=kb_name)}</p>'
    headers = ["ui.file_column_name", "ui.file_column_status", "ui.file_column_chunks", "ui.file_column_pages",
               "ui.file_column_size", "ui.file_column_updated", "ui.file_column_error"]
    body = []
    for row in rows:
        cells = [
            html.escape(row["name"]), render_status(row["status"], lang),
            str(row["chunk_count"]) if row.get("chunk_count") is not None else "–",
            str(row["pages"]) if row.get("pages") else "–",
            format_size(row["size"]) if row.get("size") is not None else "–",
            format_time(row.get("updated_at")),
            html.escape(row["error"]) if row.get("error") else "",
        ]
        body.append(cells)
    return _table("lu-file-rows", headers, body, lang, numeric={2, 3, 4}, wrap={0, 6})


def render_status(status: str, lang: str) -> str:
    """Return a file status as a coloured label, e.g. 已索引 or 失败."""
    if status == "indexed":
        kind = "ok"
    elif status == "failed":
        kind = "failed"
    else:
        kind = "busy"
    label = translate(f"ui.file_status.{status}", lang) if status in FILE_STATUSES else status
    return f'<span class="lu-status lu-status-{kind}">{html.escape(label)}</span>'


def render_jobs(jobs: list[Job], lang: str) -> str:
    """Return the progress of queued and running jobs, one block each with a progress bar; '' when none."""
    active = [job for job in jobs if job.status in ACTIVE_JOB_STATUSES]
    return "".join(_render_job_progress(job, lang) for job in active)


def _render_job_progress(job: Job, lang: str) -> str:
    snapshot = job.snapshot()
    title = _job_title(job, lang)
    if job.status == "queued":
        return (f'<div class="lu-job" data-status="queued"><div class="lu-job-title">{title}</div>'
                f'<progress max="1"></progress><div class="lu-job-detail">{_text("ui.job_queued", lang)}</div></div>')

    total = max(snapshot["total_files"], snapshot["files_done"], 1)
    within = 0.0
    if snapshot["stage"] in STAGE_UNITS and snapshot["stage_total"]:
        within = min(snapshot["stage_done"] / snapshot["stage_total"], 1.0)
    fraction = min((snapshot["files_done"] + within) / total, 1.0)
    parts = [_text("ui.job_files", lang, done=snapshot["files_done"], total=total)]
    if snapshot["stage"] and snapshot["file"]:
        parts.append(_job_stage(snapshot, lang))
    remaining = estimate_remaining(job, fraction)
    if remaining is not None:
        parts.append(_text("ui.job_remaining", lang, time=format_duration(remaining, lang)))
    detail = " · ".join(parts)
    return (f'<div class="lu-job" data-status="running"><div class="lu-job-title">{title}</div>'
            f'<progress max="1" value="{fraction:.3f}"></progress><div class="lu-job-detail">{detail}</div></div>')


def estimate_remaining(job: Job, fraction: float) -> float | None:
    """Estimate a running job's seconds left from its elapsed time and the fraction done.

    Unlike `Job.seconds_remaining`, which waits for the first finished file, this counts the chunks
    embedded within the current file, so a single large file gets an estimate too. None before 2 %
    is done (too early to tell) and once less than a second is left.
    """
    if job.started_at is None or fraction < MIN_FRACTION_FOR_ESTIMATE:
        return None
    remaining = (time.monotonic() - job.started_at) * (1.0 - fraction) / fraction
    return remaining if remaining >= 1.0 else None


def _job_stage(snapshot: dict, lang: str) -> str:
    stage = snapshot["stage"]
    stage_name = translate(f"ui.stage.{stage}", lang)
    text = _text("ui.job_stage", lang, stage=stage_name, name=snapshot["file"])
    unit_key = STAGE_UNITS.get(stage)
    if unit_key and snapshot["stage_total"]:
        text += " " + _text("ui.job_stage_count", lang, done=snapshot["stage_done"], total=snapshot["stage_total"],
                            unit=translate(unit_key, lang))
    return text


def _job_title(job: Job, lang: str) -> str:
    key = "ui.job_title_rebuild" if job.kind == "rebuild" else "ui.job_title_ingest"
    return _text(key, lang, kb=job.kb_name)


def render_job_results(jobs: list[Job], lang: str, limit: int = 3) -> str:
    """Return Markdown with the outcome of the `limit` most recently finished jobs, newest first; '' when none."""
    finished = [job for job in jobs if job.status not in ACTIVE_JOB_STATUSES]
    finished.sort(key=lambda job: job.finished_at or 0.0, reverse=True)
    return "\n\n".join(render_job_result(job, lang) for job in finished[:limit])


def render_job_result(job: Job, lang: str) -> str:
    """Return Markdown with one finished job's outcome: counts per outcome and the files behind them."""
    summary = render_job_summary(job, lang)
    if job.kind == "rebuild" or job.status == "failed":
        return summary
    details = render_ingest_details(job.report or IngestReport(), lang)
    return summary + ("\n\n" + details if details else "")


def render_job_summary(job: Job, lang: str) -> str:
    """Return one line with a finished job's outcome and counts, for a toast or a heading."""
    kb = markdown_text(job.kb_name)
    if job.status == "failed":
        error = job.error.message(lang) if job.error is not None else translate("error.internal", lang)
        return translate("ui.job_failed", lang, kb=kb, error=markdown_text(error))
    if job.kind == "rebuild":
        key = "ui.rebuild_cancelled" if job.status == "cancelled" else "ui.rebuild_done"
        return translate(key, lang, kb=kb)
    key = "ui.upload_cancelled" if job.status == "cancelled" else "ui.upload_done"
    report = job.report or IngestReport()
    counts = translate(
        "ui.upload_summary", lang, added=len(report.added), updated=len(report.updated),
        unchanged=len(report.unchanged), failed=len(report.failed), skipped=len(report.skipped),
        cancelled=len(report.cancelled), chunks=report.chunks,
    )
    return translate(key, lang, kb=kb) + " " + counts


def render_ingest_details(report: IngestReport, lang: str) -> str:
    """Return a Markdown list of the failed files with their reasons, the skipped and the cancelled files."""
    # NOTE: the manager stores failure reasons already translated into Settings.language, so after a
    # language switch they can differ from the rest of the page.
    lines = ["- " + translate("ui.upload_failed_file", lang, name=markdown_text(item["name"]),
                              error=markdown_text(item["error"]))
             for item in report.failed]
    lines += ["- " + translate("ui.upload_skipped_file", lang, item=markdown_text(item)) for item in report.skipped]
    if report.cancelled:
        separator = "、" if lang == "zh" else ", "
        names = separator.join(markdown_text(name) for name in report.cancelled[:MAX_LISTED_FILES])
        if len(report.cancelled) > MAX_LISTED_FILES:
            names += " …"
        lines.append("- " + translate("ui.upload_cancelled_files", lang, names=names))
    return "\n".join(lines)


def format_size(size_bytes: int) -> str:
    """Return a byte count as B, KB, MB or GB with one decimal (1 KB = 1024 bytes)."""
    size = float(size_bytes)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def format_time(timestamp: str | None) -> str:
    """Return a stored UTC ISO timestamp as local 'YYYY-MM-DD HH:MM', or '–' when missing or unreadable."""
    if not timestamp:
        return "–"
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return html.escape(timestamp)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def format_duration(seconds: float, lang: str) -> str:
    """Return an estimated duration rounded to seconds under a minute, else to minutes."""
    if seconds < 60:
        return translate("ui.duration_seconds", lang, count=max(int(round(seconds)), 1))
    return translate("ui.duration_minutes", lang, count=int(round(seconds / 60)))


def _table(table_id: str, header_keys: list[str], rows: list[list[str]], lang: str, numeric: set[int],
           wrap: set[int]) -> str:
    """Return an HTML table; `rows` hold cells that are already escaped.

    `numeric` lists the right-aligned columns and `wrap` the columns whose text may wrap.
    """
    def cell(tag: str, index: int, content: str) -> str:
        classes = ["lu-number"] if index in numeric else []
        classes.append("lu-wrap" if index in wrap else "lu-nowrap")
        return f'<{tag} class="{" ".join(classes)}">{content}</{tag}>'

    head = "".join(cell("th", index, _text(key, lang)) for index, key in enumerate(header_keys))
    body = "".join("<tr>" + "".join(cell("td", index, value) for index, value in enumerate(row)) + "</tr>"
                   for row in rows)
    return f'<table class="lu-table" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _text(key: str, lang: str, **params: object) -> str:
    """Return a catalog message with its parameters HTML-escaped."""
    return translate(key, lang, **{name: html.escape(str(value)) for name, value in params.items()})


def markdown_text(text: str) -> str:
    """Escape HTML and the Markdown characters that would turn a file or KB name into markup."""
    escaped = html.escape(str(text))
    for char in "\\`*_[]#|":
        escaped = escaped.replace(char, "\\" + char)
    return escaped
