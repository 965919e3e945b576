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


# Runs app.py after `prelude` (Python code that patches the app, e.g. to slow down embeddings).
RUN_APP_AFTER_PRELUDE = """
import runpy, sys
exec(compile(sys.argv[1], "<prelude>", "exec"))
sys.argv = [sys.argv[2], *sys.argv[3:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


class AppServer:
    """`python app.py --port PORT` in a subprocess, with its output in `log_path`.

    `env` must set LLM_UNIVERSE_DATA_DIR. With `prelude`, that Python code runs in the app's process
    first (a test-only patch).
    """

    def __init__(self, env: dict[str, str], log_path: Path, prelude: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.data_dir = Path(env["LLM_UNIVERSE_DATA_DIR"])
        self.log_path = log_path
        self._log = log_path.open("wb")
        command = [sys.executable, str(REPO_ROOT / "app.py"), "--port", str(self.port)]
        if prelude is not None:
            command = [sys.executable, "-c", RUN_APP_AFTER_PRELUDE, prelude, *command[1:]]
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

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
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_text(self) -> str:
        """Return everything the app has written to stdout and stderr so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def isolated_app_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Return an app subprocess environment for module-scoped fixtures, like the `subprocess_env` fixture.

    The data root is `data_dir`, embeddings are the fake ones, there is no sample knowledge base, and
    the network guard is on. Every provider variable is set to an empty string rather than removed,
    because the app loads a `.env` found above its package without overriding variables that are set.
    `extra` variables are added last.
    """
    from conftest import NETGUARD_DIR, PROVIDER_VARIABLES

    from llm_universe.embeddings.registry import declared_variables as embedding_variables
    from llm_universe.llms.registry import declared_variables as llm_variables

    env = dict(os.environ)
    for name in {*PROVIDER_VARIABLES, *llm_variables(), *embedding_variables(), "LLM_UNIVERSE_MAX_RETRIES",
                 "LLM_UNIVERSE_REQUEST_TIMEOUT", "LLM_UNIVERSE_AUTH"}:
        env[name] = ""
    env.update({
        "LLM_UNIVERSE_DATA_DIR": str(data_dir), "LLM_UNIVERSE_EMBEDDING": "fake", "LLM_UNIVERSE_SAMPLE_KB": "0",
        "LLM_UNIVERSE_RETRY_DELAY": "0.01", "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False",
        "PYTHONPATH": os.pathsep.join([str(NETGUARD_DIR), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    })
    env.update(extra)
    return env


def start_app(env: dict[str, str], tmp_path: Path, prelude: str | None = None) -> Iterator[AppServer]:
    """Yield a running app for a fixture, then print its log tail at teardown (shown when the test fails)."""
    server = AppServer(env, tmp_path / "app.log", prelude)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()
        print(f"--- app.py log ({server.log_path}) ---\n{server.log_tail()}")


# Module scope: each test module imports this fixture, which makes it a separate fixture per module,
# and two Playwright sync sessions cannot run at once in one thread.
@pytest.fixture(scope="module")
def browser():
    """The system Chromium, launched once per test module."""
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


def open_knowledge_tab(page) -> None:
    """Switch to the Knowledge tab."""
    page.locator("#lu-knowledge-tab-button").click()


def open_chat_tab(page) -> None:
    """Switch to the Chat tab."""
    page.locator("#lu-chat-tab-button").click()


def text_box(page, elem_id: str):
    """Locator of the text field of the Gradio Textbox with element id `elem_id`."""
    return page.locator(f"#{elem_id}").locator("input, textarea").first


def create_kb(page, kb_name: str) -> None:
    """Create knowledge base `kb_name` on the Knowledge tab and wait until it is the current one."""
    from playwright.sync_api import expect

    text_box(page, "lu-new-kb").fill(kb_name)
    page.locator("#lu-create-kb").click()
    expect(page.locator("#lu-kb-manage input")).to_have_value(kb_name, timeout=UI_TIMEOUT)


def choose_files(page, paths: list[Path]) -> None:
    """Put `paths` into the Files box and wait until each is uploaded to the app."""
    from playwright.sync_api import expect

    page.locator("#lu-files input[type=file]").set_input_files([str(path) for path in paths])
    for path in paths:
        # The file list shows each name as stem and extension in separate elements, so match the download link.
        link = page.locator(f'#lu-files a[href$="/{quote(path.name)}"]')
        expect(link).to_have_count(1, timeout=UI_TIMEOUT)


def wait_for_job_result(page, text: str):
    """Wait until the job results contain `text`; return their locator."""
    from playwright.sync_api import expect

    result = page.locator("#lu-upload-result")
    expect(result).to_contain_text(text, timeout=UI_TIMEOUT)
    return result


def upload(page, kb_name: str, paths: list[Path]) -> None:
    """Create knowledge base `kb_name`, upload `paths` into it, wait for the background job, then return to Chat."""
    from playwright.sync_api import expect

    open_knowledge_tab(page)
    create_kb(page, kb_name)
    choose_files(page, paths)
    page.locator("#lu-upload").click()
    wait_for_job_result(page, kb_name)
    open_chat_tab(page)
    expect(page.locator("#lu-kb-select")).to_contain_text(kb_name, timeout=UI_TIMEOUT)


def file_row(page, file_name: str):
    """Locator of the file table row of `file_name`."""
    return page.locator("#lu-file-rows tbody tr").filter(has=page.get_by_text(file_name, exact=True))


def pick(page, elem_id: str, option: str) -> None:
    """Choose the option labelled `option` in the Gradio dropdown with element id `elem_id`."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


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
