"""Browser tests of the model settings: switching providers, the per-session API key, the connection test, stop.

One app process serves every test of this module. It starts with no LLM configured (extractive
answers) and with the OpenAI-compatible provider pointed at a fake server on 127.0.0.1, so the
page can switch to it. Each test opens its own browser context (a new visitor).
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
    isolated_app_env,
    open_page,
    pick,
    start_app,
    text_box,
    upload,
    user_messages,
    wait_for_answer,
    wait_for_load,
)
from fake_vendor import FakeVendorServer
from playwright.sync_api import expect

from llm_universe.config import Settings
from llm_universe.web.model_settings import ModelSettingsPanel

KB_NAME = "模型测试库"
FACT_TEXT = "# 蓝鲸号\n\n蓝鲸号飞船的船长叫做林默。\n\n## 船员\n\n副船长周岚负责导航和通信。\n"
PROVIDER = "OpenAI 兼容服务（未配置）"
MODEL = "fake-model"
SECRET_KEY = "sk-ui-only-5f3c9a7e1b2d4c6e8f0a"
SCREENSHOT_DIR = Path(os.environ.get("LLM_UNIVERSE_UI_SCREENSHOTS") or tempfile.gettempdir())


@pytest.fixture(scope="module")
def vendor():
    """A fake OpenAI-compatible server shared by the module; each test resets its behaviour."""
    server = FakeVendorServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def reset_vendor(vendor: FakeVendorServer) -> None:
    """Give every test a well-behaved, fast fake server with no recorded requests."""
    vendor.fault = None
    vendor.reply = None
    vendor.delay = 0.01
    vendor.chunk_chars = 6
    vendor.requests.clear()


@pytest.fixture(scope="module")
def app(tmp_path_factory, vendor: FakeVendorServer):
    """One app for the module: no LLM by default, the OpenAI-compatible slot on the fake server."""
    root = tmp_path_factory.mktemp("providers_app")
    env = isolated_app_env(root / "data", OPENAI_COMPATIBLE_BASE_URL=vendor.base_url)
    yield from start_app(env, root)


@pytest.fixture
def fact_file(tmp_path: Path) -> Path:
    """A Markdown file with facts nothing else contains."""
    path = tmp_path / "upload" / "蓝鲸号.md"
    path.parent.mkdir()
    path.write_text(FACT_TEXT, encoding="utf-8")
    return path


def use_fake_server(page, api_key: str | None = None) -> None:
    """Open the model settings, choose the OpenAI-compatible provider and the fake server's model."""
    page.locator("#lu-model-settings").get_by_text("模型设置").click()
    pick(page, "lu-provider", PROVIDER)
    expect(page.locator("#lu-provider-help")).to_contain_text("OPENAI_COMPATIBLE_MODEL", timeout=UI_TIMEOUT)
    pick(page, "lu-model", MODEL)
    expect(page.locator("#lu-model-status")).to_contain_text(f"OpenAI 兼容服务 · {MODEL}", timeout=UI_TIMEOUT)
    expect(page.locator("#lu-provider-help")).not_to_contain_text("未指定模型")
    if api_key is not None:
        key_box = text_box(page, "lu-api-key")
        key_box.fill(api_key)
        key_box.blur()
        expect(page.locator("#lu-provider-help")).to_contain_text("使用下方填写的密钥", timeout=UI_TIMEOUT)


def chat_bodies(vendor: FakeVendorServer) -> list[dict]:
    """Return the JSON bodies of the chat requests the fake server received."""
    return [request["body"] for request in vendor.chat_requests()]


def test_switch_provider_keeps_history(app, browser, fact_file: Path, vendor: FakeVendorServer) -> None:
    page = open_page(browser, app.url)
    upload(page, KB_NAME, [fact_file])
    expect(page.locator("#lu-model-status")).to_contain_text("摘录式回答")
    ask(page, "蓝鲸号飞船的船长是谁？")
    expect(wait_for_answer(page, 1)).to_contain_text("摘录式回答")

    vendor.reply = "副船长周岚负责导航和通信 [1]。"
    use_fake_server(page, api_key=SECRET_KEY)
    temperature = page.locator("#lu-temperature input[type=number]")
    temperature.fill("0.7")
    temperature.press("Enter")
    ask(page, "副船长负责什么？")
    expect(wait_for_answer(page, 2)).to_contain_text(vendor.reply)
    page.screenshot(path=str(SCREENSHOT_DIR / "ui_chat_providers.png"), full_page=True)

    body = chat_bodies(vendor)[-1]
    assert body["model"] == MODEL
    assert body["temperature"] == 0.7
    assert "蓝鲸号飞船的船长是谁？" in str(body["messages"])
    assert vendor.chat_requests()[-1]["headers"]["authorization"] == f"Bearer {SECRET_KEY}"

    page.reload()
    wait_for_load(page)
    expect(user_messages(page)).to_have_text(["蓝鲸号飞船的船长是谁？", "副船长负责什么？"], timeout=UI_TIMEOUT)
    expect(bot_messages(page).nth(1)).to_contain_text(vendor.reply)
    page.locator("#lu-model-settings").get_by_text("模型设置").click()
    expect(text_box(page, "lu-api-key")).to_have_value("", timeout=UI_TIMEOUT)
    assert SECRET_KEY not in page.content()
    assert SECRET_KEY not in page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
    assert SECRET_KEY not in page.evaluate("() => JSON.stringify(Object.assign({}, sessionStorage))")
    assert SECRET_KEY not in app.log_text()
    for path in app.data_dir.rglob("*"):
        if path.is_file():
            assert SECRET_KEY.encode() not in path.read_bytes(), f"API key written to {path}"


def test_connection_test_messages(app, browser, vendor: FakeVendorServer) -> None:
    page = open_page(browser, app.url)
    use_fake_server(page)
    result = page.locator("#lu-test-result")

    vendor.fault = "401"
    page.locator("#lu-test-connection").click()
    expect(result).to_contain_text("OpenAI 兼容服务拒绝了密钥（HTTP 401）", timeout=UI_TIMEOUT)
    expect(result).to_contain_text("OPENAI_COMPATIBLE_API_KEY")

    vendor.fault = None
    page.locator("#lu-test-connection").click()
    expect(result).to_contain_text(f"连接成功：OpenAI 兼容服务 · {MODEL}", timeout=UI_TIMEOUT)
    assert chat_bodies(vendor)[-1]["max_tokens"] == 1


def test_stop_keeps_partial_answer(app, browser, fact_file: Path, vendor: FakeVendorServer) -> None:
    page = open_page(browser, app.url)
    upload(page, "停止测试库", [fact_file])
    use_fake_server(page)
    vendor.reply = "蓝鲸号飞船的船长是林默 [1]。" + "这是一段很长的补充说明，用来让回答持续流式输出。" * 20
    vendor.chunk_chars = 3
    vendor.delay = 0.1
    ask(page, "蓝鲸号飞船的船长是谁？")
    answer = bot_messages(page).nth(0)
    expect(answer).to_contain_text("船长是林默", timeout=UI_TIMEOUT)
    page.locator("#lu-stop").click()

    expect(answer.locator(".lu-incomplete")).to_contain_text("回答不完整", timeout=UI_TIMEOUT)
    expect(page.locator("#lu-send")).to_be_visible()
    expect(page.locator("#lu-stop")).to_be_hidden()
    partial_text = answer.inner_text()
    page.screenshot(path=str(SCREENSHOT_DIR / "ui_chat_stopped.png"), full_page=True)
    assert "用来让回答持续流式输出。" * 20 not in partial_text

    page.reload()
    wait_for_load(page)
    restored = bot_messages(page).nth(0)
    expect(restored.locator(".lu-incomplete")).to_have_count(1, timeout=UI_TIMEOUT)
    assert restored.inner_text() == partial_text

    # The provider, model and temperature chosen before the reload are kept (the API key is not).
    expect(page.locator("#lu-model-status")).to_contain_text(f"OpenAI 兼容服务 · {MODEL}")
    vendor.reply = "副船长是周岚 [1]。"
    vendor.delay = 0.01
    ask(page, "副船长是谁？")
    wait_for_answer(page, 1)
    expect(bot_messages(page).nth(1)).to_contain_text("副船长是周岚")
    expect(user_messages(page)).to_have_text(["蓝鲸号飞船的船长是谁？", "副船长是谁？"])
    assert "船长是林默" in str(chat_bodies(vendor)[-1]["messages"])


def test_provider_choices_explain_setup() -> None:
    panel = ModelSettingsPanel(Settings.from_env(embedding_provider="fake"))
    labels = dict((value, label) for label, value in panel.provider_choices("zh"))
    help_text = panel.provider_help_text("zhipu", None, None, "zh")
    assert labels["default"] == "默认配置：不使用大模型（摘录式回答）"
    assert labels["zhipu"] == "智谱 GLM（未配置）"
    assert "请在 .env 中设置 ZHIPUAI_API_KEY，或在下方填写只在本次会话中使用的密钥" in help_text
    assert "fake" not in labels
