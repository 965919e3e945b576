"""Chat providers: one contract suite that every provider passes against a fake vendor server on 127.0.0.1.

Each provider runs through its real client (langchain-openai + openai, or the zhipuai SDK). Only the
base URL changes: it points at the fake server, which speaks that vendor's wire format and error bodies.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass

import jwt
import pytest

from conftest import REPO_ROOT, closed_port_url
from llm_universe import errors
from llm_universe.chains.qa import AnswerResult
from llm_universe.config import Settings
from llm_universe.llms.connection import check_connection, list_models
from llm_universe.llms.errors import (
    ProviderDependencyMissing,
    ProviderKeyFormatError,
    ProviderMissingModel,
    ProviderModelFileNotFound,
    ProviderQuotaExceeded,
    ProviderUnexpectedError,
    error_category,
    map_provider_error,
)
from llm_universe.llms.registry import PROVIDERS, resolve_target
from llm_universe.llms.retry import RetryPolicy, stream_with_retry
from llm_universe.service import Assistant

FACT = "# 飞船档案\n\n蓝鲸号飞船建造于二〇八八年。蓝鲸号飞船的船长叫做林默。飞船的主引擎是离子推进器。\n"
QUESTION = "蓝鲸号飞船的船长是谁？"


@dataclass(frozen=True)
class Case:
    provider: str
    dialect: str
    key_variable: str
    base_url_variable: str
    model_variable: str
    key: str


CASES = [
    Case("openai", "openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "sk-test-123"),
    Case("zhipu", "zhipu", "ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL", "ZHIPUAI_MODEL", "fakeid.fakesecret"),
    Case("spark", "spark", "SPARK_API_PASSWORD", "SPARK_BASE_URL", "SPARK_MODEL", "spark-api-password"),
    Case("ernie", "qianfan", "QIANFAN_API_KEY", "QIANFAN_BASE_URL", "QIANFAN_MODEL", "bce-v3/ALTAK-test/secret"),
    Case("openai-compatible", "openai", "OPENAI_COMPATIBLE_API_KEY", "OPENAI_COMPATIBLE_BASE_URL",
         "OPENAI_COMPATIBLE_MODEL", "local-key"),
]
CASE_BY_ID = {case.provider: case for case in CASES}

# Fault -> (typed error, category) that every provider must produce.
FAULTS = {
    "401": (errors.ProviderAuthError, "auth"),
    "403": (errors.ProviderAuthError, "auth"),
    "404": (errors.ProviderNotFound, "not_found"),
    "429": (errors.ProviderRateLimit, "rate_limit"),
    "500": (errors.ProviderServerError, "server"),
    "503": (errors.ProviderServerError, "server"),
    "malformed": (errors.ProviderBadResponse, "bad_response"),
    "timeout": (errors.ProviderTimeout, "timeout"),
}


@pytest.fixture(params=CASES, ids=[case.provider for case in CASES])
def case(request) -> Case:
    return request.param


def configure(settings: Settings, case: Case, base_url: str, **values: str | None) -> Settings:
    """Return settings that send `case.provider` to `base_url` with a short timeout."""
    provider_values = {case.key_variable: case.key, case.base_url_variable: base_url, case.model_variable: "fake-model"}
    return settings.with_provider_values({**provider_values, **values}).replace(
        llm_provider=case.provider, request_timeout=0.5)


def make_assistant(settings: Settings, tmp_path) -> Assistant:
    assistant = Assistant(settings)
    assistant.knowledge_bases.create("库")
    (tmp_path / "ship.md").write_text(FACT, encoding="utf-8")
    assistant.knowledge_bases.ingest([tmp_path / "ship.md"], "库")
    return assistant


def collect(events) -> tuple[list[str], AnswerResult]:
    events = list(events)
    assert isinstance(events[-1], AnswerResult)
    return events[:-1], events[-1]


@pytest.fixture
def served(case, settings, vendor_servers, tmp_path):
    """(assistant, fake server) for the parametrized provider."""
    server = vendor_servers(case.dialect, hang_seconds=5)
    return make_assistant(configure(settings, case, server.base_url), tmp_path), server


# The contract: streaming, request shape, every fault category, a cut stream -------------------------


def test_registry_declares_variables(case):
    spec = PROVIDERS[case.provider]

    assert spec.key_variable == case.key_variable
    assert spec.base_url_variable == case.base_url_variable
    assert spec.model_variable == case.model_variable


def test_answer_streams_complete(case, served):
    assistant, server = served

    deltas, result = collect(assistant.ask(QUESTION, ["库"]))

    assert len(deltas) > 2
    assert result.status == "complete"
    assert result.error is None
    assert result.answer == "".join(deltas)
    assert result.answer.startswith("【测试模型】根据资料 [1]：")
    assert result.provider == case.provider
    assert result.model == "fake-model"


def test_request_shape(case, served):
    assistant, server = served

    collect(assistant.ask(QUESTION, ["库"]))

    request = server.chat_requests()[-1]
    body = request["body"]
    assert request["path"] == server.prefix + "/chat/completions"
    assert body["model"] == "fake-model"
    assert body["stream"] is True
    assert body["messages"][0]["role"] == "system"
    assert "[1] 来源：ship.md" in body["messages"][0]["content"]
    assert "蓝鲸号飞船的船长叫做林默" in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": QUESTION}


def test_auth_header_form(case, served):
    assistant, server = served

    collect(assistant.ask(QUESTION, ["库"]))

    header = server.chat_requests()[-1]["headers"]["authorization"]
    if case.provider == "zhipu":
        token = header.removeprefix("Bearer ")
        claims = jwt.decode(token, "fakesecret", algorithms=["HS256"], options={"verify_exp": False})
        assert jwt.get_unverified_header(token)["sign_type"] == "SIGN"
        assert claims["api_key"] == "fakeid"
        assert "fakesecret" not in header
    else:
        assert header == f"Bearer {case.key}"


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_category(case, served, fault):
    assistant, server = served
    server.fault = fault
    expected_class, expected_category = FAULTS[fault]

    deltas, result = collect(assistant.ask(QUESTION, ["库"]))

    assert deltas == []
    assert result.status == "failed"
    assert isinstance(result.error, expected_class)
    assert error_category(result.error) == expected_category
    assert case.key not in result.error.message("zh")
    assert "Traceback" not in result.error.message("zh")


@pytest.mark.parametrize("fault", ["401", "404", "timeout"])
def test_fault_message_names_variable(case, served, fault):
    assistant, server = served
    server.fault = fault
    variable = case.key_variable if fault == "401" else case.base_url_variable

    _, result = collect(assistant.ask(QUESTION, ["库"]))

    assert variable in result.error.message("zh")
    assert variable in result.error.message("en")


def test_stream_cut_stored_incomplete(case, served):
    assistant, server = served
    conversation = assistant.conversations.create("session-a")
    server.fault = "cut"

    deltas, result = collect(assistant.chat("session-a", conversation.id, QUESTION, ["库"]))

    messages = assistant.conversations.messages(conversation.id, "session-a")
    assert deltas
    assert result.status == "incomplete"
    assert error_category(result.error) == "stream_cut"
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[-1].status == "incomplete"
    assert messages[-1].content == "".join(deltas)


def test_failure_leaves_history(case, served):
    assistant, server = served
    conversation = assistant.conversations.create("session-a")
    server.fault = "401"

    collect(assistant.chat("session-a", conversation.id, QUESTION, ["库"]))

    assert assistant.conversations.messages(conversation.id, "session-a") == []


def test_rate_limit_retried_then_reported(case, served):
    assistant, server = served
    server.fault = "429"

    _, result = collect(assistant.ask(QUESTION, ["库"]))

    assert isinstance(result.error, errors.ProviderRateLimit)
    assert len(server.chat_requests()) == 3


def test_rate_limit_recovers_on_retry(case, served):
    assistant, server = served
    server.fault, server.fault_times = "429", 1

    _, result = collect(assistant.ask(QUESTION, ["库"]))

    assert result.status == "complete"
    assert len(server.chat_requests()) == 2


def test_unreachable_base_url(case, settings, tmp_path):
    assistant = make_assistant(configure(settings, case, closed_port_url()), tmp_path)

    _, result = collect(assistant.ask(QUESTION, ["库"]))

    assert isinstance(result.error, errors.ProviderConnectionError)
    assert case.base_url_variable in result.error.message("zh")


def test_key_not_in_messages_or_logs(case, served, caplog):
    assistant, server = served
    server.fault = "401"
    caplog.set_level(logging.INFO)

    _, result = collect(assistant.ask(QUESTION, ["库"]))
    target = resolve_target(assistant.settings)

    assert case.key not in result.error.message("zh")
    assert case.key not in result.error.message("en")
    assert case.key not in str(result.error)
    assert case.key not in repr(target)
    assert case.key not in repr(assistant.settings)
    assert case.key not in caplog.text


# Exact messages the user sees --------------------------------------------------------------------

EXACT_MESSAGES = [
    ("zhipu", "401", "zh", "智谱 GLM 拒绝了密钥（HTTP 401）。请检查 ZHIPUAI_API_KEY 是否正确、是否过期。"),
    ("zhipu", "401", "en", "Zhipu GLM rejected the API key (HTTP 401). Check that ZHIPUAI_API_KEY is correct and "
                           "not expired."),
    ("zhipu", "404", "zh", "智谱 GLM 找不到模型「fake-model」或接口地址错误（HTTP 404）。请检查 ZHIPUAI_BASE_URL 与模型名。"),
    ("zhipu", "quota", "zh", "智谱 GLM 的账户额度已用完或已欠费（HTTP 429 1113: 您的账户已欠费，请充值后重试）。"
                             "请充值或升级套餐后再试。"),
    ("spark", "429", "zh", "讯飞星火返回请求过多或额度不足（HTTP 429）。请稍后再试，或检查账户余额。"),
    ("spark", "quota", "zh", "讯飞星火的账户额度已用完或已欠费（11201: 授权错误：日流控超限。超过当日最大访问量的限制）。"
                             "请充值或升级套餐后再试。"),
    ("ernie", "404", "zh", "百度文心（千帆）找不到模型「fake-model」或接口地址错误（HTTP 404）。请检查 QIANFAN_BASE_URL 与模型名。"),
    ("ernie", "timeout", "zh", "百度文心（千帆）在 0.5 秒内没有响应。请稍后重试，或检查网络与 QIANFAN_BASE_URL。"),
    ("openai-compatible", "malformed", "zh", "OpenAI 兼容服务返回了无法解析的响应。请检查 OPENAI_COMPATIBLE_BASE_URL "
                                             "是否指向 OpenAI 兼容接口。"),
    ("openai", "quota", "en", "OpenAI reports that the account quota or balance is used up (HTTP 429 "
                              "insufficient_quota: You exceeded your current quota). Top up or upgrade the plan, "
                              "then try again."),
]


@pytest.mark.parametrize(("provider", "fault", "lang", "expected"), EXACT_MESSAGES,
                         ids=[f"{p}-{f}-{lang}" for p, f, lang, _ in EXACT_MESSAGES])
def test_fault_message_exact(settings, vendor_servers, tmp_path, provider, fault, lang, expected):
    case = CASE_BY_ID[provider]
    server = vendor_servers(case.dialect, hang_seconds=5)
    server.fault = fault
    assistant = make_assistant(configure(settings, case, server.base_url), tmp_path)

    _, result = collect(assistant.ask(QUESTION, ["库"]))

    assert result.error.message(lang) == expected


@pytest.mark.parametrize("provider", ["openai", "zhipu", "spark"])
def test_quota_not_retried(settings, vendor_servers, tmp_path, provider):
    case = CASE_BY_ID[provider]
    server = vendor_servers(case.dialect)
    server.fault = "quota"
    assistant = make_assistant(configure(settings, case, server.base_url), tmp_path)

    _, result = collect(assistant.ask(QUESTION, ["库"]))

    assert isinstance(result.error, ProviderQuotaExceeded)
    assert isinstance(result.error, errors.ProviderRateLimit)
    assert len(server.chat_requests()) == 1


# Provider specifics ------------------------------------------------------------------------------


def test_zhipu_plain_key_sent_as_bearer(settings, vendor_servers, tmp_path):
    server = vendor_servers("zhipu")
    configured = configure(settings, CASE_BY_ID["zhipu"], server.base_url, ZHIPUAI_API_KEY="plainkey123")

    collect(make_assistant(configured, tmp_path).ask(QUESTION, ["库"]))

    assert server.chat_requests()[-1]["headers"]["authorization"] == "Bearer plainkey123"


def test_zhipu_plain_key_rejected_hint(settings, vendor_servers, tmp_path):
    server = vendor_servers("zhipu")
    server.fault = "401"
    configured = configure(settings, CASE_BY_ID["zhipu"], server.base_url, ZHIPUAI_API_KEY="plainkey123")

    _, result = collect(make_assistant(configured, tmp_path).ask(QUESTION, ["库"]))

    assert isinstance(result.error, ProviderKeyFormatError)
    assert result.error.message("zh") == ("智谱 GLM 拒绝了密钥（HTTP 401）。ZHIPUAI_API_KEY 应是形如 <id>.<secret> 的密钥，"
                                          "当前的值不是这种形式。请到控制台重新复制完整的密钥。")


def test_ernie_old_key_rejected_hint(settings, vendor_servers, tmp_path):
    server = vendor_servers("qianfan")
    server.fault = "401"
    configured = configure(settings, CASE_BY_ID["ernie"], server.base_url, QIANFAN_API_KEY="0123456789abcdef")

    _, result = collect(make_assistant(configured, tmp_path).ask(QUESTION, ["库"]))

    assert isinstance(result.error, ProviderKeyFormatError)
    assert isinstance(result.error, errors.ProviderAuthError)
    assert "QIANFAN_API_KEY 应是形如 bce-v3/ALTAK-…/… 的密钥" in result.error.message("zh")
    assert "0123456789abcdef" not in result.error.message("zh")


@pytest.mark.parametrize(("temperature", "sent"), [(0.0, 0.01), (0.7, 0.7), (1.5, 1.0)], ids=["zero", "inside", "above"])
def test_spark_temperature_clamped(settings, vendor_servers, tmp_path, temperature, sent):
    server = vendor_servers("spark")
    configured = configure(settings, CASE_BY_ID["spark"], server.base_url).replace(temperature=temperature)

    collect(make_assistant(configured, tmp_path).ask(QUESTION, ["库"]))

    assert server.chat_requests()[-1]["body"]["temperature"] == sent


def test_compatible_without_key(settings, vendor_servers, tmp_path):
    server = vendor_servers("openai")
    configured = configure(settings, CASE_BY_ID["openai-compatible"], server.base_url, OPENAI_COMPATIBLE_API_KEY=None)

    _, result = collect(make_assistant(configured, tmp_path).ask(QUESTION, ["库"]))

    assert result.status == "complete"
    assert server.chat_requests()[-1]["headers"]["authorization"] == "Bearer not-needed"


def test_compatible_without_model(settings):
    with pytest.raises(ProviderMissingModel) as caught:
        resolve_target(settings, provider="openai-compatible")

    assert caught.value.message("zh") == ("OpenAI 兼容服务未指定模型。请在 .env 中设置 OPENAI_COMPATIBLE_MODEL，"
                                          "或在界面中填写模型名称。")


@pytest.mark.parametrize("provider", [case.provider for case in CASES if case.provider != "openai-compatible"])
def test_missing_key_names_variable(settings, provider):
    with pytest.raises(errors.ProviderMissingKey) as caught:
        resolve_target(settings, provider=provider)

    assert CASE_BY_ID[provider].key_variable in caught.value.message("zh")
    assert CASE_BY_ID[provider].key_variable in caught.value.message("en")


def test_missing_key_message_exact(settings):
    with pytest.raises(errors.ProviderMissingKey) as caught:
        resolve_target(settings, provider="spark")

    assert caught.value.message("zh") == "讯飞星火未配置密钥。请在 .env 中设置 SPARK_API_PASSWORD，或在界面的密钥输入框中填写。"
    assert caught.value.message("en") == "iFlytek Spark has no API key. Set SPARK_API_PASSWORD in .env, or enter a key in the UI."


def test_session_key_overrides_settings(settings, vendor_servers, tmp_path):
    server = vendor_servers("zhipu")
    configured = configure(settings, CASE_BY_ID["zhipu"], server.base_url, ZHIPUAI_API_KEY=None)
    assistant = make_assistant(configured, tmp_path)

    _, result = collect(assistant.ask(QUESTION, ["库"], provider="zhipu", api_key="sessionid.sessionsecret"))

    token = server.chat_requests()[-1]["headers"]["authorization"].removeprefix("Bearer ")
    assert result.status == "complete"
    assert jwt.decode(token, "sessionsecret", algorithms=["HS256"], options={"verify_exp": False})["api_key"] == "sessionid"


def test_unknown_provider_lists_ids(settings):
    with pytest.raises(errors.UnknownProvider) as caught:
        resolve_target(settings, provider="gpt")

    assert caught.value.message("en") == ("Unknown LLM provider 'gpt'. Valid: none, openai, zhipu, spark, ernie, "
                                          "openai-compatible, llama-cpp.")


def test_unexpected_error_logged(settings, vendor_servers, caplog):
    server = vendor_servers("openai")
    target = resolve_target(configure(settings, CASE_BY_ID["openai"], server.base_url))

    mapped = map_provider_error(RuntimeError("boom"), target)

    assert isinstance(mapped, ProviderUnexpectedError)
    assert mapped.message("zh") == "调用 OpenAI 时发生意外错误（RuntimeError），详情已写入日志。请重试；若问题持续，请反馈日志内容。"
    assert caplog.records[-1].exc_info is not None


# Settings ----------------------------------------------------------------------------------------


def test_settings_read_provider_env():
    settings = Settings.from_env({"ZHIPUAI_API_KEY": "a.b", "SPARK_MODEL": "4.0Ultra", "UNRELATED": "x"})

    assert settings.provider_value("ZHIPUAI_API_KEY") == "a.b"
    assert settings.provider_value("SPARK_MODEL") == "4.0Ultra"
    assert settings.provider_value("UNRELATED") is None
    assert settings.provider_value("QIANFAN_API_KEY") is None


def test_settings_repr_hides_values():
    settings = Settings.from_env({"ZHIPUAI_API_KEY": "secret-id.secret-value", "OPENAI_API_KEY": "sk-secret"})

    assert "secret-value" not in repr(settings)
    assert "sk-secret" not in repr(settings)
    assert "ZHIPUAI_API_KEY" in repr(settings)


def test_auto_provider_first_configured():
    assert Settings.from_env({}).resolved_llm_provider == "none"
    assert Settings.from_env({"ZHIPUAI_API_KEY": "a.b"}).resolved_llm_provider == "zhipu"
    assert Settings.from_env({"OPENAI_API_KEY": "sk-x", "ZHIPUAI_API_KEY": "a.b"}).resolved_llm_provider == "openai"
    assert Settings.from_env({"OPENAI_COMPATIBLE_MODEL": "qwen2.5"}).resolved_llm_provider == "openai-compatible"
    assert Settings.from_env({"ZHIPUAI_API_KEY": "a.b", "LLM_UNIVERSE_LLM_PROVIDER": "none"}).resolved_llm_provider == "none"


# Shared retry helper ----------------------------------------------------------------------------


def test_stream_not_restarted_after_first_item():
    starts = []

    def start():
        starts.append(1)
        yield "part"
        raise ConnectionError("dropped")

    stream = stream_with_retry(start, RetryPolicy(max_retries=3, initial_delay=0), lambda error: 0.0, "test")

    assert next(stream) == "part"
    with pytest.raises(ConnectionError):
        next(stream)
    assert len(starts) == 1


def test_stream_retried_before_first_item():
    starts = []

    def start():
        starts.append(1)
        if len(starts) < 3:
            raise ConnectionError("refused")
        yield "ok"

    items = list(stream_with_retry(start, RetryPolicy(max_retries=3, initial_delay=0), lambda error: 0.0, "test"))

    assert items == ["ok"]
    assert len(starts) == 3


# Connection test and model list (the UI's "测试连接" button and model dropdown) ---------------------


def test_check_connection_ok(case, settings, vendor_servers):
    server = vendor_servers(case.dialect)

    report = check_connection(configure(settings, case, server.base_url), provider=case.provider)

    body = server.chat_requests()[-1]["body"]
    assert report.ok is True
    assert report.category == "ok"
    assert report.model == "fake-model"
    assert body["max_completion_tokens" if case.provider == "openai" else "max_tokens"] == 1
    assert report.message("zh").startswith("连接成功：")


def test_check_connection_failure_not_retried(settings, vendor_servers):
    server = vendor_servers("zhipu")
    server.fault = "429"

    report = check_connection(configure(settings, CASE_BY_ID["zhipu"], server.base_url), provider="zhipu")

    assert report.ok is False
    assert report.category == "rate_limit"
    assert report.message("zh") == "智谱 GLM 返回请求过多或额度不足（HTTP 429）。请稍后再试，或检查账户余额。"
    assert len(server.chat_requests()) == 1


def test_check_connection_session_key(settings, vendor_servers):
    server = vendor_servers("qianfan")
    configured = configure(settings, CASE_BY_ID["ernie"], server.base_url, QIANFAN_API_KEY=None)

    report = check_connection(configured, provider="ernie", api_key="bce-v3/ALTAK-session/key")

    assert report.category == "ok"
    assert server.chat_requests()[-1]["headers"]["authorization"] == "Bearer bce-v3/ALTAK-session/key"
    assert "bce-v3/ALTAK-session/key" not in repr(report)


@pytest.mark.parametrize(("provider", "category"), [("zhipu", "missing_key"), ("none", "none"),
                                                    ("nope", "unknown_provider"), ("llama-cpp", "missing_dependency")])
def test_check_connection_without_request(settings, provider, category):
    report = check_connection(settings, provider=provider)

    assert report.category == category
    assert report.ok is (category == "none")


def test_list_models_from_server(settings, vendor_servers):
    server = vendor_servers("openai")
    server.models = ["qwen2.5:7b", "deepseek-chat"]
    configured = configure(settings, CASE_BY_ID["openai-compatible"], server.base_url)

    models = list_models(configured, "openai-compatible")

    assert models == ["deepseek-chat", "qwen2.5:7b"]
    assert server.requests[-1]["path"] == "/v1/models"
    assert server.requests[-1]["headers"]["authorization"] == "Bearer local-key"


def test_list_models_without_endpoint(settings, vendor_servers):
    server = vendor_servers("openai")
    server.models = None
    configured = configure(settings, CASE_BY_ID["openai-compatible"], server.base_url)

    assert list_models(configured, "openai-compatible") == list(PROVIDERS["openai-compatible"].suggested_models)


def test_list_models_rejected_key(settings, vendor_servers):
    server = vendor_servers("openai")
    server.fault = "401"
    configured = configure(settings, CASE_BY_ID["openai-compatible"], server.base_url)

    with pytest.raises(errors.ProviderAuthError) as caught:
        list_models(configured, "openai-compatible")

    assert "OPENAI_COMPATIBLE_API_KEY" in caught.value.message("zh")


def test_list_models_suggested_without_request(settings):
    assert list_models(settings, "spark") == list(PROVIDERS["spark"].suggested_models)


# llama.cpp in-process (optional package) ---------------------------------------------------------


def test_llama_cpp_missing_package(settings, tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")

    with pytest.raises(ProviderDependencyMissing) as caught:
        resolve_target(settings.with_provider_values({"LLAMA_CPP_MODEL_PATH": str(model)}), provider="llama-cpp")

    assert caught.value.message("zh") == ("本地 GGUF 模型（llama.cpp）需要安装可选依赖 llama-cpp-python。"
                                          "请运行：pip install llama-cpp-python")
    assert caught.value.message("en") == ("Local GGUF model (llama.cpp) needs the optional package llama-cpp-python. "
                                          "Install it with: pip install llama-cpp-python")


STUB_LLAMA_CPP = '''
class Llama:
    """Test stand-in for llama_cpp.Llama: streams the reply in OpenAI-style chunks."""
    calls = []

    def __init__(self, model_path, n_ctx, verbose):
        self.model_path, self.n_ctx = model_path, n_ctx

    def create_chat_completion(self, messages, temperature, stream, max_tokens=None, stop=None):
        Llama.calls.append({"messages": messages, "n_ctx": self.n_ctx, "stream": stream})
        pieces = ["本地", "模型", "回答"]
        chunks = [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        return iter(chunks)
'''


@pytest.fixture
def stub_llama_cpp(tmp_path, monkeypatch):
    """A stand-in `llama_cpp` package on sys.path, since the real one is an optional extra."""
    package = tmp_path / "stub_packages" / "llama_cpp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(STUB_LLAMA_CPP, encoding="utf-8")
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.delitem(sys.modules, "llama_cpp", raising=False)
    yield
    sys.modules.pop("llama_cpp", None)


def test_llama_cpp_streams(settings, tmp_path, stub_llama_cpp):
    model = tmp_path / "qwen.gguf"
    model.write_bytes(b"GGUF")
    configured = settings.with_provider_values({"LLAMA_CPP_MODEL_PATH": str(model), "LLAMA_CPP_N_CTX": "2048"})
    assistant = make_assistant(configured, tmp_path)

    deltas, result = collect(assistant.ask(QUESTION, ["库"], provider="llama-cpp"))

    import llama_cpp

    assert deltas == ["本地", "模型", "回答"]
    assert result.status == "complete"
    assert result.model == str(model)
    assert llama_cpp.Llama.calls[-1]["n_ctx"] == 2048
    assert llama_cpp.Llama.calls[-1]["messages"][-1] == {"role": "user", "content": QUESTION}


def test_llama_cpp_missing_file(settings, tmp_path, stub_llama_cpp):
    missing = tmp_path / "absent.gguf"

    with pytest.raises(ProviderModelFileNotFound) as caught:
        resolve_target(settings.with_provider_values({"LLAMA_CPP_MODEL_PATH": str(missing)}), provider="llama-cpp")

    assert caught.value.message("zh") == f"找不到模型路径 {missing}。请把 LLAMA_CPP_MODEL_PATH 设置为本机上已下载模型的路径。"


# The command line: `ask --provider P --json` through the real client ------------------------------


def test_cli_ask_each_provider(case, vendor_servers, subprocess_env, tmp_path):
    server = vendor_servers(case.dialect)
    env = {**subprocess_env, "LLM_UNIVERSE_EMBEDDING": "fake", case.key_variable: case.key,
           case.base_url_variable: server.base_url, case.model_variable: "m1"}
    note = tmp_path / "ship.md"
    note.write_text(FACT, encoding="utf-8")
    run = [sys.executable, "-m", "llm_universe"]
    subprocess.run([*run, "ingest", str(note), "--kb", "库"], env=env, cwd=str(REPO_ROOT), check=True,
                   capture_output=True, timeout=300)

    completed = subprocess.run([*run, "ask", QUESTION, "--kb", "库", "--provider", case.provider, "--json"], env=env,
                               cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=300)

    answer = json.loads(completed.stdout)
    assert completed.returncode == 0, completed.stderr
    assert answer["provider"] == case.provider
    assert answer["model"] == "m1"
    assert answer["status"] == "complete"
    assert answer["answer"].startswith("【测试模型】")
    assert server.chat_requests()[-1]["body"]["stream"] is True
    assert case.key not in completed.stderr + completed.stdout


def test_cli_ask_fault_exit_one(vendor_servers, subprocess_env, tmp_path):
    server = vendor_servers("spark")
    env = {**subprocess_env, "LLM_UNIVERSE_EMBEDDING": "fake", "SPARK_API_PASSWORD": "pw-123",
           "SPARK_BASE_URL": server.base_url}
    note = tmp_path / "ship.md"
    note.write_text(FACT, encoding="utf-8")
    run = [sys.executable, "-m", "llm_universe"]
    subprocess.run([*run, "ingest", str(note), "--kb", "库"], env=env, cwd=str(REPO_ROOT), check=True,
                   capture_output=True, timeout=300)
    server.fault = "403"

    completed = subprocess.run([*run, "ask", QUESTION, "--kb", "库", "--provider", "spark", "--json"], env=env,
                               cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=300)

    assert completed.returncode == 1
    assert json.loads(completed.stdout)["error"] == "讯飞星火拒绝了密钥（HTTP 403）。请检查 SPARK_API_PASSWORD 是否正确、是否过期。"
    assert "Traceback" not in completed.stderr


def test_temperature_override(settings, vendor_servers, tmp_path):
    server = vendor_servers("openai")
    configured = configure(settings, CASE_BY_ID["openai-compatible"], server.base_url)

    target = resolve_target(configured, temperature=0.9)

    assert target.temperature == 0.9
    with pytest.raises(errors.ConfigurationError):
        resolve_target(configured, temperature=3.0)
