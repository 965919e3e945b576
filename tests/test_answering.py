"""Answering: extractive answers, the OpenAI-compatible path against a fake server, and conversations."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_universe.chains.qa import AnswerResult, split_sentences
from llm_universe.errors import LLMUniverseError, ProviderMissingKey, UnknownProvider
from llm_universe.service import Assistant

FACT = "# 飞船档案\n\n蓝鲸号飞船建造于二〇八八年。蓝鲸号飞船的船长叫做林默。飞船的主引擎是离子推进器。\n"
OTHER = "# 潜艇档案\n\n红隼号潜艇的艇长叫做苏晴。潜艇可以下潜到一万米。\n"


@pytest.fixture
def assistant(settings, tmp_path) -> Assistant:
    assistant = Assistant(settings)
    assistant.knowledge_bases.create("库")
    (tmp_path / "ship.md").write_text(FACT, encoding="utf-8")
    (tmp_path / "sub.md").write_text(OTHER, encoding="utf-8")
    assistant.knowledge_bases.ingest([tmp_path / "ship.md", tmp_path / "sub.md"], "库")
    return assistant


def collect(events) -> tuple[list[str], AnswerResult]:
    events = list(events)
    assert isinstance(events[-1], AnswerResult)
    return [event for event in events[:-1]], events[-1]


def test_extractive_answer_quotes_source(assistant):
    deltas, result = collect(assistant.ask("蓝鲸号飞船的船长叫什么？", ["库"]))

    assert result.provider == "none"
    assert result.model is None
    assert result.in_knowledge_base is True
    assert result.answer == "".join(deltas)
    assert result.answer.startswith("（摘录式回答")
    assert "蓝鲸号飞船的船长叫做林默。" in result.answer
    assert "OPENAI_API_KEY" in result.answer
    assert result.sources[0].source == "ship.md"


def test_extractive_answer_english(assistant):
    _, result = collect(assistant.ask("蓝鲸号飞船的船长叫什么？", ["库"], lang="en"))

    assert result.answer.startswith("(Extractive answer")


def test_sources_have_contract_fields(assistant):
    _, result = collect(assistant.ask("红隼号潜艇", ["库"]))
    source = result.to_dict()["sources"][0]

    assert set(source) >= {"source", "page", "chunk_id", "score", "text"}
    assert source["page"] is None
    assert source["source"] == "sub.md"
    assert isinstance(source["score"], float)


def test_empty_question_rejected(assistant):
    with pytest.raises(LLMUniverseError) as caught:
        list(assistant.ask("  ", ["库"]))
    assert caught.value.message("zh") == "问题不能为空。"


def test_no_kb_selected(assistant):
    with pytest.raises(LLMUniverseError) as caught:
        list(assistant.ask("问题", []))
    assert caught.value.message("zh") == "请先选择至少一个知识库。"


def test_unknown_provider(assistant):
    with pytest.raises(UnknownProvider) as caught:
        list(assistant.ask("问题", ["库"], provider="nope"))
    assert "openai" in caught.value.message("zh")


def test_openai_without_key(assistant):
    with pytest.raises(ProviderMissingKey) as caught:
        list(assistant.ask("问题", ["库"], provider="openai"))
    assert "OPENAI_API_KEY" in caught.value.message("zh")


def openai_assistant(settings, fake_openai, tmp_path) -> Assistant:
    configured = settings.replace(openai_api_key="sk-test-123", openai_base_url=fake_openai.base_url,
                                  openai_model="fake-model")
    assistant = Assistant(configured)
    assistant.knowledge_bases.create("库")
    (tmp_path / "ship.md").write_text(FACT, encoding="utf-8")
    assistant.knowledge_bases.ingest([tmp_path / "ship.md"], "库")
    return assistant


def test_openai_streams_answer(settings, fake_openai, tmp_path):
    assistant = openai_assistant(settings, fake_openai, tmp_path)

    deltas, result = collect(assistant.ask("蓝鲸号飞船的船长是谁？", ["库"]))

    assert len(deltas) > 2
    assert result.answer.startswith("【测试模型】根据资料 [1]：")
    assert result.provider == "openai"
    assert result.model == "fake-model"
    assert result.status == "complete"


def test_openai_request_shape(settings, fake_openai, tmp_path):
    assistant = openai_assistant(settings, fake_openai, tmp_path)

    collect(assistant.ask("蓝鲸号飞船的船长是谁？", ["库"]))

    request = [r for r in fake_openai.requests if r["path"].endswith("/chat/completions")][-1]
    messages = request["body"]["messages"]
    assert request["body"]["model"] == "fake-model"
    assert request["body"]["stream"] is True
    assert request["headers"]["authorization"] == "Bearer sk-test-123"
    assert messages[0]["role"] == "system"
    assert "[1] 来源：ship.md" in messages[0]["content"]
    assert "蓝鲸号飞船的船长叫做林默" in messages[0]["content"]
    assert messages[-1] == {"role": "user", "content": "蓝鲸号飞船的船长是谁？"}


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("401", "OpenAI 拒绝了密钥（HTTP 401）。请检查 OPENAI_API_KEY 是否正确、是否过期。"),
        ("404", "OpenAI 找不到模型「fake-model」或接口地址错误（HTTP 404）。请检查 OPENAI_BASE_URL 与模型名。"),
        ("500", "OpenAI 服务端出错（HTTP 500）。请稍后重试。"),
    ],
    ids=["bad-key", "not-found", "server-error"],
)
def test_openai_fault_message(settings, fake_openai, tmp_path, fault, expected):
    assistant = openai_assistant(settings, fake_openai, tmp_path)
    fake_openai.fault = fault

    _, result = collect(assistant.ask("船长是谁？", ["库"]))

    assert result.status == "failed"
    assert result.error.message("zh") == expected


def test_chat_stores_turns(settings, fake_openai, tmp_path):
    assistant = openai_assistant(settings, fake_openai, tmp_path)
    conversation = assistant.conversations.create("session-a")

    collect(assistant.chat("session-a", conversation.id, "蓝鲸号飞船的船长是谁？", ["库"]))
    collect(assistant.chat("session-a", conversation.id, "他开的是什么飞船？", ["库"]))

    messages = assistant.conversations.messages(conversation.id, "session-a")
    followup_request = fake_openai.requests[-1]["body"]["messages"]
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1].sources[0]["source"] == "ship.md"
    assert followup_request[1] == {"role": "user", "content": "蓝鲸号飞船的船长是谁？"}
    assert followup_request[2]["role"] == "assistant"
    assert assistant.conversations.get(conversation.id, "session-a").title == "蓝鲸号飞船的船长是谁？"


def test_chat_stream_cut_kept_incomplete(settings, fake_openai, tmp_path):
    assistant = openai_assistant(settings, fake_openai, tmp_path)
    conversation = assistant.conversations.create("session-a")
    fake_openai.fault = "cut"

    deltas, result = collect(assistant.chat("session-a", conversation.id, "蓝鲸号飞船的船长是谁？", ["库"]))

    messages = assistant.conversations.messages(conversation.id, "session-a")
    assert deltas
    assert result.status == "incomplete"
    assert "中途中断" in result.error.message("zh")
    assert messages[-1].status == "incomplete"
    assert messages[-1].content == "".join(deltas)


def test_chat_failure_leaves_history(settings, fake_openai, tmp_path):
    assistant = openai_assistant(settings, fake_openai, tmp_path)
    conversation = assistant.conversations.create("session-a")
    fake_openai.fault = "401"

    collect(assistant.chat("session-a", conversation.id, "船长是谁？", ["库"]))

    assert assistant.conversations.messages(conversation.id, "session-a") == []


def test_conversations_isolated_by_session(assistant):
    mine = assistant.conversations.create("session-a")

    assert assistant.conversations.list("session-b") == []
    with pytest.raises(LLMUniverseError):
        assistant.conversations.messages(mine.id, "session-b")
    with pytest.raises(LLMUniverseError):
        assistant.conversations.delete(mine.id, "session-b")


def test_split_sentences_chinese():
    assert split_sentences("第一句。第二句！第三句？\n# 标题那一行") == ["第一句。", "第二句！", "第三句？", "标题那一行"]


def test_regulation_answer_real_model(real_settings, tmp_path):
    """The bundled offline model answers the regulation question from the Markdown regulation."""
    from conftest import corpus_file

    assistant = Assistant(real_settings)
    assistant.knowledge_bases.create("法规")
    assistant.knowledge_bases.ingest(
        [corpus_file("extra/langchain-chatchat/人民检察院行政诉讼监督规则（试行）(2016-04-15).md")], "法规")

    _, result = collect(assistant.ask("当事人申请监督的期限是多久？", ["法规"]))

    assert "六个月" in result.answer
    assert result.in_knowledge_base is True


def test_chat_stopped_kept_incomplete(settings, fake_openai, tmp_path):
    assistant = openai_assistant(settings, fake_openai, tmp_path)
    conversation = assistant.conversations.create("session-a")
    stream = assistant.chat("session-a", conversation.id, "蓝鲸号飞船的船长是谁？", ["库"])

    first = next(stream)
    stream.close()

    messages = assistant.conversations.messages(conversation.id, "session-a")
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content == first
    assert messages[1].status == "incomplete"


def test_chat_stopped_before_text(settings, fake_openai, tmp_path):
    assistant = openai_assistant(settings, fake_openai, tmp_path)
    conversation = assistant.conversations.create("session-a")

    assistant.chat("session-a", conversation.id, "船长是谁？", ["库"]).close()

    assert assistant.conversations.messages(conversation.id, "session-a") == []
