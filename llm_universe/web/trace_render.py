"""Render the retrieval trace of an answer (`AnswerResult.trace`) as the HTML of the 「显示检索过程」 panel.

Pure functions without Gradio. Every value from the trace is escaped: chunk excerpts and the prompt
contain the user's documents.
"""

from __future__ import annotations

import html

from llm_universe.i18n import translate

# Stage names in `trace["seconds"]`, in the order they run; other stages are listed after these.
STAGES = ("condense", "retrieve", "retrieve_embed", "retrieve_dense", "retrieve_lexical", "retrieve_fuse",
          "generate", "total")
REWRITE_METHODS = ("none", "llm", "keywords", "edited")


def render_trace(trace: dict | None, lang: str) -> str:
    """Return the panel's HTML: retrieval question, gate, scored chunks, prompt, token counts and stage times."""
    if not trace:
        return f'<p class="lu-empty">{_t("ui.trace_empty", lang)}</p>'
    sections = [
        _question_section(trace, lang),
        _gate_section(trace, lang),
        _chunks_section(trace.get("chunks") or [], lang),
        _prompt_section(trace.get("prompt") or [], lang),
        _numbers_section("ui.trace_tokens", trace.get("tokens") or {}, lang, prefix="ui.trace_token."),
        _numbers_section("ui.trace_seconds", _ordered_stages(trace.get("seconds") or {}), lang,
                         prefix="ui.trace_stage."),
    ]
    return f'<div class="lu-trace">{"".join(sections)}</div>'


def _question_section(trace: dict, lang: str) -> str:
    condensed = trace.get("retrieval_question") or {}
    method = condensed.get("method")
    method_name = _t(f"ui.trace_method.{method}", lang) if method in REWRITE_METHODS else html.escape(str(method))
    rows = [
        (_t("ui.trace_question", lang), html.escape(str(trace.get("question", "")))),
        (_t("answer.retrieval_question", lang),
         f'<span class="lu-trace-retrieval-question">{html.escape(str(condensed.get("text", "")))}</span>'),
        (_t("ui.trace_rewrite_method", lang), method_name),
    ]
    if condensed.get("error"):
        rows.append((_t("ui.trace_rewrite_error", lang), html.escape(str(condensed["error"]))))
    retrieval = trace.get("retrieval") or {}
    if retrieval:
        rows.append((_t("ui.trace_retrieval_settings", lang), html.escape(_t_plain(
            "ui.trace_retrieval_values", lang, mode=retrieval.get("mode"), dense=retrieval.get("dense_weight"),
            lexical=retrieval.get("lexical_weight"), rrf_k=retrieval.get("rrf_k"), k=retrieval.get("k"),
            candidates=retrieval.get("candidates")))))
    return _key_value_table(rows)


def _gate_section(trace: dict, lang: str) -> str:
    gate = trace.get("gate") or {}
    verdict = _t("ui.trace_gate_passed" if gate.get("passed") else "ui.trace_gate_failed", lang)
    rows = [
        (_t("ui.trace_gate", lang), html.escape(_t_plain("ui.trace_gate_values", lang, verdict=verdict,
                                                         score=gate.get("score"), threshold=gate.get("threshold"),
                                                         reason=gate.get("reason")))),
        (_t("ui.trace_policy", lang), html.escape(f'{trace.get("policy", "")} / {trace.get("answer_mode", "")}')),
    ]
    removed = trace.get("removed_citations") or []
    if removed:
        rows.append((_t("ui.trace_removed_citations", lang), html.escape(", ".join(f"[{n}]" for n in removed))))
    return _key_value_table(rows)


def _chunks_section(chunks: list[dict], lang: str) -> str:
    heading = f'<h4>{_t("ui.trace_chunks", lang, count=len(chunks))}</h4>'
    if not chunks:
        return heading + f'<p class="lu-empty">{_t("ui.trace_no_chunks", lang)}</p>'
    columns = ["ui.trace_col_index", "ui.trace_col_source", "ui.trace_col_dense", "ui.trace_col_bm25",
               "ui.trace_col_fused", "ui.trace_col_relevance", "ui.trace_col_excerpt"]
    header = "".join(f"<th>{_t(key, lang)}</th>" for key in columns)
    rows = "".join(_chunk_row(chunk, lang) for chunk in chunks)
    return f'{heading}<table class="lu-table lu-trace-chunks"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'


def _chunk_row(chunk: dict, lang: str) -> str:
    index = f'[{chunk["index"]}]' if chunk.get("index") is not None else "—"
    if not chunk.get("selected"):
        index = _t("ui.trace_not_selected", lang)
    source = html.escape(str(chunk.get("source", "")))
    if chunk.get("page"):
        source += " " + _t("answer.page", lang, page=chunk["page"])
    if chunk.get("is_correction"):
        source += f' <span class="lu-badge lu-badge-correction">{_t("ui.user_correction", lang)}</span>'
    source += f'<br><span class="lu-source-kb">{html.escape(str(chunk.get("knowledge_base", "")))}</span>'
    cells = [
        f'<td class="lu-nowrap">{html.escape(index) if chunk.get("selected") else index}</td>',
        f"<td>{source}</td>",
        _score_cell(chunk.get("dense_score"), chunk.get("dense_rank"), lang),
        _score_cell(chunk.get("bm25_score"), chunk.get("bm25_rank"), lang),
        _score_cell(chunk.get("fused_score"), None, lang),
        _score_cell(chunk.get("relevance"), None, lang),
        f'<td class="lu-wrap">{html.escape(" ".join(str(chunk.get("excerpt", "")).split()))}</td>',
    ]
    selected = " lu-trace-selected" if chunk.get("selected") else ""
    return f'<tr class="lu-trace-chunk{selected}">{"".join(cells)}</tr>'


def _score_cell(score: object, rank: object, lang: str) -> str:
    text = "—" if score is None else f"{score}"
    if rank is not None:
        text += _t_plain("ui.trace_rank", lang, rank=rank)
    return f'<td class="lu-number lu-nowrap">{html.escape(text)}</td>'


def _prompt_section(messages: list[dict], lang: str) -> str:
    heading = f'<h4>{_t("ui.trace_prompt", lang)}</h4>'
    if not messages:
        return heading + f'<p class="lu-empty">{_t("ui.trace_no_prompt", lang)}</p>'
    items = []
    for message in messages:
        role = html.escape(str(message.get("role", "")))
        content = html.escape(str(message.get("content", "")))
        items.append(f'<details class="lu-trace-message"><summary>{role}</summary><pre>{content}</pre></details>')
    return heading + "".join(items)


def _numbers_section(heading_key: str, values: dict, lang: str, prefix: str) -> str:
    heading = f"<h4>{_t(heading_key, lang)}</h4>"
    if not values:
        return heading + '<p class="lu-empty">—</p>'
    rows = []
    for name, value in values.items():
        label = translate(prefix + name, lang)
        label = name if label == prefix + name else label
        rows.append((html.escape(label), html.escape(str(value))))
    return heading + _key_value_table(rows)


def _ordered_stages(seconds: dict) -> dict:
    known = {stage: seconds[stage] for stage in STAGES if stage in seconds}
    return {**known, **{stage: value for stage, value in seconds.items() if stage not in known}}


def _key_value_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f'<tr><th class="lu-nowrap">{key}</th><td>{value}</td></tr>' for key, value in rows)
    return f'<table class="lu-table lu-trace-table"><tbody>{body}</tbody></table>'


def _t(key: str, lang: str, **params: object) -> str:
    """Return a catalog message, escaped for HTML."""
    return html.escape(translate(key, lang, **params))


def _t_plain(key: str, lang: str, **params: object) -> str:
    return translate(key, lang, **params)
