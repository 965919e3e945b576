"""Tests of checking answers in the web UI: citations, labels, the retrieval trace, re-runs, feedback, corrections.

The browser tests share one app process (extractive answers, fake embeddings, fresh data root); each
opens its own browser context (a new visitor) and uses its own knowledge base. The rendering
functions are tested directly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from browser import (  # noqa: F401 - `browser` is a fixture
    REPO_ROOT,
    UI_TIMEOUT,
    ask,
    bot_messages,
    browser,
    isolated_app_env,
    open_knowledge_tab,
    open_page,
    pick,
    start_app,
    text_box,
    upload,
    user_messages,
    wait_for_answer,
    wait_for_load,
)
from playwright.sync_api import expect

from llm_universe.web.render import highlighted_excerpt, link_citations, render_answer, render_answer_meta
from llm_universe.web.trace_render import render_trace

FACT_TEXT = "# 蓝鲸号\n\n蓝鲸号飞船的船长叫做林默。\n\n## 船员\n\n副船长周岚负责导航和通信。\n"
QUESTION = "蓝鲸号飞船的船长是谁？"
CORRECTED = "蓝鲸号的船长是林默，他在二〇八一年接任。"
EDITED_QUESTION = "副船长周岚负责什么工作"
SCREENSHOT_DIR = Path(os.environ.get("LLM_UNIVERSE_UI_SCREENSHOTS") or tempfile.gettempdir())


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the module, with no LLM configured, so answers are extractive."""
    root = tmp_path_factory.mktemp("retrieval_app")
    yield from start_app(isolated_app_env(root / "data"), root)


def fact_file(tmp_path: Path, name: str) -> Path:
    """Write the Markdown fact file under `tmp_path` as `name` and return its path."""
    path = tmp_path / name
    path.write_text(FACT_TEXT, encoding="utf-8")
    return path


def toast(page, text: str):
    """Locator of the toast containing `text`."""
    return page.locator("[data-testid=toast-body]").filter(has_text=text)


def choose_feedback(page, answer_number: int, option: str) -> None:
    """Click feedback `option` ("Like", "Dislike" or an option of the flag menu) on the n-th answer (1-based).

    The Chatbot shows one Like, Dislike and Feedback (flag) button under each answer, outside the message itself.
    """
    chat = page.locator("#lu-chatbot")
    if option in {"Like", "Dislike"}:
        chat.locator(f"button[aria-label={option}]").nth(answer_number - 1).click()
        return
    chat.locator("button[aria-label=Feedback]").nth(answer_number - 1).click()
    chat.locator(".extra-feedback-option").filter(has_text=option).first.click()


def export_bad_cases(data_dir: Path) -> list[dict]:
    """Return the bad cases that `python -m llm_universe eval export-bad-cases` writes for `data_dir`."""
    env = isolated_app_env(data_dir)
    completed = subprocess.run([sys.executable, "-m", "llm_universe", "eval", "export-bad-cases"], cwd=REPO_ROOT,
                               env=env, capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]


def test_correction_used_when_asked_again(app, browser, tmp_path: Path) -> None:
    page = open_page(browser, app.url)
    upload(page, "纠正测试库", [fact_file(tmp_path, "蓝鲸号.md")])
    ask(page, QUESTION)
    first = wait_for_answer(page, 1)
    expect(first.locator(".lu-label")).to_have_text("来自知识库")
    expect(first.locator(".lu-cite").first).to_have_attribute("title", "[1] 蓝鲸号.md")

    choose_feedback(page, 1, "纠正答案")
    form = page.locator("#lu-correction-save")
    expect(form).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.locator("#lu-correction-heading")).to_contain_text(QUESTION)
    expect(page.locator("#lu-correction-kb input")).to_have_value("纠正测试库")
    text_box(page, "lu-correction-text").fill(CORRECTED)
    page.locator("#lu-correction-save").click()
    expect(toast(page, "已将纠正存入知识库")).to_have_count(1, timeout=UI_TIMEOUT)
    expect(form).to_be_hidden()

    ask(page, QUESTION)
    second = wait_for_answer(page, 2)
    expect(second).to_contain_text(CORRECTED)
    expect(second.locator(".lu-answer-meta")).to_contain_text("使用了用户纠正")
    correction = second.locator(".lu-source-correction")
    expect(correction).to_have_count(1)
    expect(correction.locator(".lu-badge-correction")).to_have_text("用户纠正")
    second.locator(".lu-sources > summary").click()
    correction.locator("summary").click()
    expect(correction.locator("mark")).to_contain_text(CORRECTED)
    page.screenshot(path=str(SCREENSHOT_DIR / "ui_retrieval_correction.png"), full_page=True)


def test_dislike_stored(app, browser, tmp_path: Path) -> None:
    page = open_page(browser, app.url)
    upload(page, "评价测试库", [fact_file(tmp_path, "蓝鲸号档案.md")])
    question = "蓝鲸号的副船长负责什么？"
    ask(page, question)
    wait_for_answer(page, 1)

    choose_feedback(page, 1, "Dislike")
    expect(toast(page, "没有帮助")).to_have_count(1, timeout=UI_TIMEOUT)

    cases = [case for case in export_bad_cases(app.data_dir) if case["question"] == question]
    assert len(cases) == 1
    assert cases[0]["rating"] == -1
    assert "评价测试库" in cases[0]["knowledge_bases"]

    page.reload()
    wait_for_load(page)
    expect(bot_messages(page)).to_have_count(1, timeout=UI_TIMEOUT)


def test_rerun_and_trace(app, browser, tmp_path: Path) -> None:
    page = open_page(browser, app.url)
    upload(page, "检索过程测试库", [fact_file(tmp_path, "蓝鲸号资料.md")])
    ask(page, QUESTION)
    wait_for_answer(page, 1)
    box = text_box(page, "lu-retrieval-question")
    expect(box).to_have_value(QUESTION, timeout=UI_TIMEOUT)

    box.fill(EDITED_QUESTION)
    page.locator("#lu-rerun").click()
    answer = bot_messages(page).first
    expect(answer.locator(".lu-retrieval-question")).to_contain_text(EDITED_QUESTION, timeout=UI_TIMEOUT)
    expect(answer.locator(".lu-retrieval-question")).to_contain_text("手动编辑")
    expect(answer.locator("blockquote").first).to_contain_text("周岚")
    expect(user_messages(page)).to_have_text([QUESTION])
    expect(bot_messages(page)).to_have_count(1)

    page.locator("#lu-trace").get_by_text("显示检索过程").click()
    trace = page.locator("#lu-trace-body")
    expect(trace.locator(".lu-trace-retrieval-question")).to_have_text(EDITED_QUESTION)
    header = trace.locator(".lu-trace-chunks thead")
    for column in ["稠密相似度", "BM25 分数", "融合分数"]:
        expect(header).to_contain_text(column)
    first_row = trace.locator(".lu-trace-chunks tbody tr").first
    expect(first_row.locator("td").nth(2)).to_have_text(re.compile(r"^\d+\.\d+（第 \d+ 名）$"))
    expect(first_row.locator("td").nth(4)).to_have_text(re.compile(r"^\d+(\.\d+)?$"))
    expect(trace).to_contain_text("各阶段耗时")
    page.screenshot(path=str(SCREENSHOT_DIR / "ui_retrieval_trace.png"), full_page=True)

    page.reload()
    wait_for_load(page)
    expect(bot_messages(page).first.locator(".lu-retrieval-question")).to_contain_text(EDITED_QUESTION,
                                                                                       timeout=UI_TIMEOUT)
    expect(text_box(page, "lu-retrieval-question")).to_have_value(EDITED_QUESTION)


def test_answer_policy_selector(app, browser, tmp_path: Path) -> None:
    page = open_page(browser, app.url)
    upload(page, "策略测试库", [fact_file(tmp_path, "策略.md")])
    open_knowledge_tab(page)
    expect(page.locator("#lu-answer-policy input")).to_have_value("平衡：依据知识库，相关度低时也让模型看最接近的资料")

    pick(page, "lu-answer-policy", "严格：只依据知识库，找不到就说明")
    expect(toast(page, "回答策略已设为")).to_have_count(1, timeout=UI_TIMEOUT)
    page.reload()
    wait_for_load(page)
    open_knowledge_tab(page)
    pick(page, "lu-kb-manage", "策略测试库")
    expect(page.locator("#lu-answer-policy input")).to_have_value("严格：只依据知识库，找不到就说明",
                                                                  timeout=UI_TIMEOUT)


def test_link_citations_titles() -> None:
    sources = [{"index": 1, "source": "a.md", "page": 2}, {"index": 2, "source": "<b>.md", "page": None}]
    html = link_citations("甲 [1]。乙 [1, 2]。丙 [3]。`x[1]`", sources, "zh")
    assert '<span class="lu-cite" title="[1] a.md 第 2 页">[1]</span>' in html
    assert 'title="[1] a.md 第 2 页；[2] &lt;b&gt;.md">[1, 2]</span>' in html
    assert "丙 [3]。" in html
    assert "`x[1]`" in html


def test_highlighted_excerpt_marks() -> None:
    source = {"text": "前言。<船长>是林默。后记。", "highlights": [{"start": 3, "end": 11, "sentence": "x"}]}
    assert highlighted_excerpt(source) == "前言。<mark>&lt;船长&gt;是林默。</mark>后记。"


def test_highlighted_excerpt_window() -> None:
    text = "甲" * 1000 + "目标句子。" + "乙" * 1000
    excerpt = highlighted_excerpt({"text": text, "highlights": [{"start": 1000, "end": 1005}]})
    assert excerpt.startswith("…")
    assert excerpt.endswith("…")
    assert "<mark>目标句子。</mark>" in excerpt


def test_answer_meta_labels() -> None:
    details = {"label": "general_knowledge", "retrieval_question": "改写后", "rewrite_method": "llm",
               "used_correction": True}
    html = render_answer_meta(details, "原问题", "en")
    assert "General knowledge (not from the knowledge base)" in html
    assert "Retrieval question：改写后" in html
    assert "Uses a user correction" in html


def test_answer_meta_same_question_hidden() -> None:
    html = render_answer_meta({"label": "not_found", "retrieval_question": "问", "rewrite_method": "none"}, "问", "zh")
    assert "知识库中未找到" in html
    assert "检索用问题" not in html


def test_render_answer_correction_source() -> None:
    source = {"index": 1, "source": "用户纠正 #3", "page": None, "text": "问题：q\n答案：a", "knowledge_base": "库",
              "is_correction": True, "cited": True, "highlights": []}
    html = render_answer("（用户纠正）a [1]", [source], "complete", "zh", {"label": "knowledge_base"}, "q")
    assert 'class="lu-source lu-source-correction"' in html
    assert '<span class="lu-badge lu-badge-correction">用户纠正</span>' in html
    assert '<span class="lu-badge lu-badge-cited">已引用</span>' in html


def test_render_trace_scores_escaped() -> None:
    trace = {
        "question": "<q>", "retrieval_question": {"text": "rq", "method": "edited", "seconds": 0, "error": None},
        "retrieval": {"mode": "hybrid", "dense_weight": 1.0, "lexical_weight": 2.0, "rrf_k": 2, "k": 5,
                      "candidates": 30},
        "gate": {"passed": True, "score": 1.2, "threshold": 0.61, "reason": "above_threshold"},
        "policy": "balanced", "answer_mode": "grounded",
        "chunks": [{"knowledge_base": "库", "source": "a.md", "page": 3, "is_correction": False, "dense_score": 0.77,
                    "dense_rank": 1, "bm25_score": None, "bm25_rank": None, "fused_score": 0.5, "relevance": 0.9,
                    "selected": True, "index": 1, "excerpt": "<script>x</script>"}],
        "prompt": [{"role": "system", "content": "<system>"}],
        "tokens": {"prompt": 120, "answer": 30}, "seconds": {"total": 0.5, "condense": 0.0},
    }
    html = render_trace(trace, "en")
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "0.77 (rank 1)" in html
    assert '<td class="lu-number lu-nowrap">—</td>' in html
    assert "&lt;system&gt;" in html
    assert "Prompt total" in html
    assert html.index("Rewrite question") < html.index("Total")
