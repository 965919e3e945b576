"""Browser tests of the web UI: the real `python app.py` in a subprocess, driven by Chromium.

Each test starts the app on a free port with a fresh data root, the fake embeddings and no sample
knowledge base, uploads a small Markdown file through the page and asks about a fact only it contains.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from browser import (  # noqa: F401 - `browser` is a fixture
    UI_TIMEOUT,
    ask,
    bot_messages,
    browser,
    open_page,
    start_app,
    upload,
    user_messages,
    wait_for_answer,
    wait_for_load,
)
from playwright.sync_api import expect

from llm_universe.errors import ConfigurationError
from llm_universe.web.app import check_public_access
from llm_universe.web.render import render_answer

KB_NAME = "浏览器测试库"
FILE_NAME = "蓝鲸号.md"
FACT_TEXT = "# 蓝鲸号\n\n蓝鲸号飞船的船长叫做林默。\n\n## 船员\n\n副船长周岚负责导航和通信。\n"
QUESTION = "蓝鲸号飞船的船长是谁？"
FOLLOW_UP = "副船长负责什么？"
SCREENSHOT = Path(os.environ.get("LLM_UNIVERSE_UI_SCREENSHOT") or Path(tempfile.gettempdir()) / "ui.png")


@pytest.fixture
def fact_file(tmp_path: Path) -> Path:
    """A Markdown file with a fact that nothing else contains."""
    path = tmp_path / "upload" / FILE_NAME
    path.parent.mkdir()
    path.write_text(FACT_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def app_env(subprocess_env: dict[str, str]) -> dict[str, str]:
    """Environment of the app subprocess: fresh data root, fake embeddings, no sample KB, no analytics."""
    return {**subprocess_env, "LLM_UNIVERSE_EMBEDDING": "fake", "LLM_UNIVERSE_SAMPLE_KB": "0",
            "GRADIO_ANALYTICS_ENABLED": "False"}


@pytest.fixture
def app(app_env: dict[str, str], tmp_path: Path):
    """The app with no LLM provider configured, so answers are extractive."""
    yield from start_app(app_env, tmp_path)


@pytest.fixture
def llm_app(app_env: dict[str, str], tmp_path: Path, fake_openai):
    """The app configured for OpenAI, pointed at the fake OpenAI-compatible server."""
    env = {**app_env, "OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": fake_openai.base_url}
    yield from start_app(env, tmp_path)


def test_ui_extractive_chat(app, browser, fact_file: Path) -> None:
    page = open_page(browser, app.url)
    expect(page.locator("#lu-header")).to_contain_text("个人知识库助手")
    expect(page.locator("#lu-send")).to_have_text("发送")
    expect(page.locator("#lu-knowledge-tab-button")).to_have_text("知识库")
    expect(page.locator("#lu-model-status")).to_contain_text("摘录式回答")

    upload(page, KB_NAME, [fact_file])
    expect(page.locator("#lu-upload-result")).to_contain_text("新增 1 个文件")
    ask(page, QUESTION)
    answer = wait_for_answer(page, 1)
    expect(answer).to_contain_text("林默")
    expect(answer).to_contain_text("摘录式回答")
    expect(answer.locator(".lu-sources .lu-source-title").first).to_contain_text(FILE_NAME)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    ask(page, FOLLOW_UP)
    follow_up = wait_for_answer(page, 2)
    expect(follow_up).to_contain_text("周岚")
    expect(page.locator("#lu-conversations input[type=radio]")).to_have_count(1)
    expect(page.locator("#lu-conversations")).to_contain_text(QUESTION)

    page.reload()
    wait_for_load(page)
    expect(user_messages(page)).to_have_text([QUESTION, FOLLOW_UP], timeout=UI_TIMEOUT)
    expect(page.locator("#lu-chatbot .lu-sources")).to_have_count(2)
    expect(page.locator("#lu-kb-select")).to_contain_text(KB_NAME)

    page.locator("#lu-language").get_by_text("English").click()
    expect(page.locator("#lu-send")).to_have_text("Send", timeout=UI_TIMEOUT)
    expect(page.locator("#lu-header")).to_contain_text("Knowledge-base assistant")
    expect(page.locator("#lu-chat-tab-button")).to_have_text("Chat")
    expect(page.locator("#lu-conversations")).to_contain_text("Conversations")
    expect(page.locator("#lu-chatbot .lu-sources summary").first).to_contain_text("Sources (")

    page.reload()
    wait_for_load(page)
    expect(page.locator("#lu-send")).to_have_text("Send", timeout=UI_TIMEOUT)
    expect(user_messages(page)).to_have_count(2, timeout=UI_TIMEOUT)


def test_ui_streams_llm_answer(llm_app, browser, fact_file: Path, fake_openai) -> None:
    fake_openai.reply = "【测试模型】蓝鲸号飞船的船长是林默 [1]。这段回答由本地测试服务器分块流式发送。"
    fake_openai.chunk_chars = 4
    fake_openai.delay = 0.25
    page = open_page(browser, llm_app.url)
    expect(page.locator("#lu-model-status")).to_contain_text("OpenAI")

    upload(page, KB_NAME, [fact_file])
    ask(page, QUESTION)
    # While streaming, the answer already shows its first pieces but not yet its end or its sources.
    page.wait_for_function(
        """() => {
            const bots = document.querySelectorAll('#lu-chatbot [data-testid=bot]');
            const text = bots.length ? bots[bots.length - 1].innerText : '';
            return text.includes('【测试模型】') && !text.includes('流式发送');
        }""",
        timeout=UI_TIMEOUT,
    )
    answer = wait_for_answer(page, 1)
    expect(answer).to_contain_text(fake_openai.reply)
    expect(answer.locator(".lu-source-title").first).to_contain_text(FILE_NAME)
    expect(answer.locator(".lu-incomplete")).to_have_count(0)

    chat_requests = [request["body"] for request in fake_openai.requests if request["method"] == "POST"]
    assert len(chat_requests) == 1
    assert chat_requests[0]["stream"] is True
    assert "林默" in str(chat_requests[0]["messages"])


def test_ui_visitors_isolated(app, browser, fact_file: Path) -> None:
    first = open_page(browser, app.url)
    upload(first, KB_NAME, [fact_file])
    ask(first, QUESTION)
    wait_for_answer(first, 1)
    expect(first.locator("#lu-conversations input[type=radio]")).to_have_count(1)

    second = open_page(browser, app.url)
    expect(second.locator("#lu-kb-select")).to_contain_text(KB_NAME)
    expect(second.locator("#lu-conversations input[type=radio]")).to_have_count(0)
    expect(user_messages(second)).to_have_count(0)
    ask(second, FOLLOW_UP)
    wait_for_answer(second, 1)
    expect(second.locator("#lu-conversations input[type=radio]")).to_have_count(1)
    expect(second.locator("#lu-conversations")).not_to_contain_text(QUESTION)

    first.reload()
    wait_for_load(first)
    expect(user_messages(first)).to_have_text([QUESTION], timeout=UI_TIMEOUT)
    expect(first.locator("#lu-conversations input[type=radio]")).to_have_count(1)
    expect(first.locator("#lu-conversations")).not_to_contain_text(FOLLOW_UP)
    expect(bot_messages(first)).to_have_count(1)


def test_ui_provider_failures(llm_app, browser, fact_file: Path, fake_openai) -> None:
    page = open_page(browser, llm_app.url)
    upload(page, KB_NAME, [fact_file])
    toasts = page.locator("[data-testid=toast-body]")

    fake_openai.fault = "cut"
    ask(page, QUESTION)
    answer = wait_for_answer(page, 1)
    expect(answer.locator(".lu-incomplete")).to_contain_text("回答不完整")
    expect(toasts.filter(has_text="中途中断")).to_have_count(1, timeout=UI_TIMEOUT)

    fake_openai.fault = "401"
    box = page.locator("#lu-question textarea")
    box.fill(FOLLOW_UP)
    box.press("Enter")
    expect(toasts.filter(has_text="HTTP 401")).to_have_count(1, timeout=UI_TIMEOUT)
    # The question goes back into the input box for a retry, and the failed turn is not kept.
    expect(box).to_have_value(FOLLOW_UP, timeout=UI_TIMEOUT)
    expect(user_messages(page)).to_have_text([QUESTION])

    page.reload()
    wait_for_load(page)
    expect(user_messages(page)).to_have_text([QUESTION], timeout=UI_TIMEOUT)
    expect(page.locator("#lu-chatbot .lu-incomplete")).to_have_count(1)


def test_render_answer_escapes_sources() -> None:
    source = {"index": 1, "source": "<b>a.md</b>", "page": 3, "text": "<script>alert(1)</script>\n\nline",
              "knowledge_base": "库"}
    html = render_answer("答案 [1]", [source], "complete", "zh")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "[1] &lt;b&gt;a.md&lt;/b&gt; 第 3 页" in html
    assert "\n" not in html.split("<details", 1)[1]
    assert "lu-incomplete" not in html


def test_render_answer_incomplete_mark() -> None:
    html = render_answer("```python\nprint(", [], "incomplete", "en")
    assert html.startswith("```python\nprint(\n```")
    assert "Incomplete answer" in html


def test_public_host_needs_login() -> None:
    check_public_access("127.0.0.1", None, allow_public=False)
    check_public_access("0.0.0.0", ("user", "password"), allow_public=False)
    with pytest.raises(ConfigurationError) as raised:
        check_public_access("0.0.0.0", None, allow_public=False)
    assert "LLM_UNIVERSE_AUTH" in raised.value.message("en")
