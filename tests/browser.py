"""Helpers for browser tests: run `python app.py` as a subprocess and drive the page with Playwright.

The browser is the system Chromium (`/usr/bin/chromium`, or `LLM_UNIVERSE_CHROMIUM`); nothing is
downloaded. Every address the page or the app talks to is on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("LLM_UNIVERSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
START_TIMEOUT = 120.0
# Milliseconds. Generous, because the first answer opens Chroma and a CI machine may be slow.
UI_TIMEOUT = 60_000


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppServer:
    """`python app.py --port PORT` in a subprocess, with its output in `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "app.py"), "--port", str(self.port)],
            cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Return once the port accepts connections. Raise with the log tail if the app exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app.py exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"app.py did not listen on port {self.port} within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Terminate the app (kill it after 10 s) and close the log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        """Return the last `lines` lines of the app's output."""
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def start_app(env: dict[str, str], tmp_path: Path) -> Iterator[AppServer]:
    """Yield a running app for a fixture, then print its log tail at teardown (shown when the test fails)."""
    server = AppServer(env, tmp_path / "app.log")
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()
        print(f"--- app.py log ({server.log_path}) ---\n{server.log_tail()}")


@pytest.fixture(scope="session")
def browser():
    """The system Chromium, launched once for the test session."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install it or set LLM_UNIVERSE_CHROMIUM")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str):
    """Open `url` in a new browser context (a separate visitor) and wait until the UI has loaded."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    wait_for_load(page)
    expect(page.locator("#lu-send")).to_be_visible(timeout=UI_TIMEOUT)
    return page


def wait_for_load(page) -> None:
    """Wait until the page's load event has restored the visitor's state (the session id is stored)."""
    page.wait_for_function("() => localStorage.getItem('llm_universe.session') !== null", timeout=UI_TIMEOUT)


def upload(page, kb_name: str, paths: list[Path]) -> None:
    """Upload `paths` into a new knowledge base `kb_name` from the Knowledge bases tab, then return to Chat."""
    from playwright.sync_api import expect

    page.locator("#lu-knowledge-tab-button").click()
    page.locator("#lu-new-kb").locator("input, textarea").first.fill(kb_name)
    page.locator("#lu-files input[type=file]").set_input_files([str(path) for path in paths])
    for path in paths:
        # The file list shows each name as stem and extension in separate elements, so match the download link.
        link = page.locator(f'#lu-files a[href$="/{quote(path.name)}"]')
        expect(link).to_have_count(1, timeout=UI_TIMEOUT)
    page.locator("#lu-upload").click()
    expect(page.locator("#lu-upload-result")).to_contain_text(kb_name, timeout=UI_TIMEOUT)
    page.locator("#lu-chat-tab-button").click()
    expect(page.locator("#lu-kb-select")).to_contain_text(kb_name, timeout=UI_TIMEOUT)


def ask(page, question: str) -> None:
    """Type `question`, press Enter and wait until the input box is cleared."""
    from playwright.sync_api import expect

    box = page.locator("#lu-question textarea")
    box.fill(question)
    box.press("Enter")
    expect(box).to_have_value("", timeout=UI_TIMEOUT)


def bot_messages(page):
    """Locator of the assistant messages in the chat."""
    return page.locator("#lu-chatbot [data-testid=bot]")


def user_messages(page):
    """Locator of the user messages in the chat."""
    return page.locator("#lu-chatbot [data-testid=user]")


def wait_for_answer(page, count: int):
    """Wait until the chat contains `count` finished answers (each ends with its sources) and return the last."""
    from playwright.sync_api import expect

    expect(page.locator("#lu-chatbot .lu-sources")).to_have_count(count, timeout=UI_TIMEOUT)
    return bot_messages(page).nth(count - 1)
