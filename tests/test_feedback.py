"""Feedback (👍 / 👎), corrections that become sources, and the bad-case export."""

from __future__ import annotations

import json

import pytest

from llm_universe.chains.qa import AnswerResult
from llm_universe.cli import main
from llm_universe.errors import ConversationNotFound, LLMUniverseError
from llm_universe.evaluation import QAItem, evaluate, load_qa
from llm_universe.service import Assistant

SHIP = "# 飞船档案\n\n蓝鲸号飞船建造于二〇八八年。蓝鲸号飞船的船长叫做林默。飞船的主引擎是离子推进器。\n"
SUB = "# 潜艇档案\n\n红隼号潜艇的艇长叫做苏晴。潜艇可以下潜到一万米。\n"
QUESTION = "蓝鲸号飞船的船长叫什么？"
CORRECTED = "船长已换成陈星，他在二〇九〇年接任。"


def collect(events) -> tuple[list[str], AnswerResult]:
    events = list(events)
    assert isinstance(events[-1], AnswerResult)
    return events[:-1], events[-1]


def build(settings, tmp_path) -> Assistant:
    assistant = Assistant(settings)
    assistant.knowledge_bases.create("档案")
    (tmp_path / "ship.md").write_text(SHIP, encoding="utf-8")
    (tmp_path / "sub.md").write_text(SUB, encoding="utf-8")
    assistant.knowledge_bases.ingest([tmp_path / "ship.md", tmp_path / "sub.md"], "档案")
    return assistant


@pytest.fixture
def assistant(settings, tmp_path) -> Assistant:
    return build(settings, tmp_path)


def chat_once(assistant: Assistant, question: str = QUESTION, session: str = "s") -> tuple[str, AnswerResult]:
    conversation = assistant.conversations.create(session)
    _, result = collect(assistant.chat(session, conversation.id, question, ["档案"]))
    return conversation.id, result


def test_chat_result_has_message_id(assistant):
    conversation_id, result = chat_once(assistant)

    messages = assistant.conversations.messages(conversation_id, "s")
    assert result.message_id == messages[-1].id
    assert messages[-1].role == "assistant"


def test_rating_stored_and_replaced(assistant):
    _, result = chat_once(assistant)

    first = assistant.feedback("s", result.message_id, -1, "船长名字不对")
    second = assistant.feedback("s", result.message_id, 1)

    assert second.id == first.id
    assert second.rating == 1
    assert second.comment == "船长名字不对"
    assert second.question == QUESTION
    assert second.knowledge_bases == ["档案"]
    assert assistant.message_details("s", result.message_id)["feedback"]["rating"] == 1


def test_rating_invalid_value(assistant):
    _, result = chat_once(assistant)

    with pytest.raises(LLMUniverseError) as caught:
        assistant.feedback("s", result.message_id, 0)
    assert caught.value.message("zh") == "评价值无效：0。只能是 1（👍）或 -1（👎）。"


def test_rating_other_session_rejected(assistant):
    _, result = chat_once(assistant)

    with pytest.raises(ConversationNotFound):
        assistant.feedback("intruder", result.message_id, -1)


def test_rating_unknown_message(assistant):
    with pytest.raises(LLMUniverseError) as caught:
        assistant.feedback("s", 999, 1)
    assert caught.value.message("zh") == "找不到这条回答（编号 999），它可能已随对话一起删除。"


def test_rating_question_message_rejected(assistant):
    conversation_id, _ = chat_once(assistant)
    question_id = assistant.conversations.messages(conversation_id, "s")[0].id

    with pytest.raises(LLMUniverseError):
        assistant.feedback("s", question_id, 1)


def test_correction_used_when_asked_again(assistant):
    _, result = chat_once(assistant)
    correction = assistant.correct("s", result.message_id, CORRECTED)

    _, again = chat_once(assistant)

    assert correction.knowledge_base == "档案"
    assert again.used_correction is True
    assert again.sources[0].is_correction is True
    assert again.sources[0].source == "用户纠正 #1"
    assert f"（用户纠正）{CORRECTED} [1]" in again.answer
    assert again.label == "knowledge_base"
    assert again.in_knowledge_base is True


def test_correction_marks_rating_down(assistant):
    _, result = chat_once(assistant)

    assistant.correct("s", result.message_id, CORRECTED)

    assert assistant.feedback_store.for_message(result.message_id).rating == -1


def test_correction_in_llm_prompt(settings, fake_openai, tmp_path):
    assistant = build(settings.replace(openai_api_key="sk-test", openai_base_url=fake_openai.base_url,
                                       openai_model="fake-model"), tmp_path)
    _, result = chat_once(assistant)
    assistant.correct("s", result.message_id, CORRECTED)

    _, again = chat_once(assistant)

    system = fake_openai.chat_requests()[-1]["body"]["messages"][0]["content"]
    assert "[1] 来源：用户纠正（用户纠正 #1）" in system
    assert CORRECTED in system
    assert again.used_correction is True


def test_correction_not_used_for_other_question(assistant):
    _, result = chat_once(assistant)
    assistant.correct("s", result.message_id, CORRECTED)

    _, other = chat_once(assistant, "红隼号潜艇能下潜多深？")

    assert other.used_correction is False
    assert "（用户纠正）" not in other.answer


def test_correction_deleted(assistant):
    _, result = chat_once(assistant)
    correction = assistant.correct("s", result.message_id, CORRECTED)

    assistant.delete_correction(correction.id)
    _, again = chat_once(assistant)

    assert assistant.feedback_store.corrections("档案") == []
    assert not any(source.is_correction for source in again.sources)


def test_correction_empty_rejected(assistant):
    _, result = chat_once(assistant)

    with pytest.raises(LLMUniverseError) as caught:
        assistant.correct("s", result.message_id, "   ")
    assert caught.value.message("zh") == "纠正后的答案不能为空。"


def test_correction_into_named_kb(assistant):
    assistant.knowledge_bases.create("勘误")
    _, result = chat_once(assistant)

    correction = assistant.correct("s", result.message_id, CORRECTED, kb_name="勘误")

    assert correction.knowledge_base == "勘误"
    assert [c.id for c in assistant.feedback_store.corrections("勘误")] == [correction.id]


def test_bad_cases_export_items(assistant):
    _, wrong = chat_once(assistant, "红隼号潜艇的艇长是谁？")
    assistant.feedback("s", wrong.message_id, -1, "答非所问")
    _, corrected = chat_once(assistant)
    assistant.correct("s", corrected.message_id, CORRECTED)
    _, liked = chat_once(assistant, "红隼号潜艇能下潜多深？")
    assistant.feedback("s", liked.message_id, 1)

    items = assistant.bad_cases()

    assert [item["question"] for item in items] == ["红隼号潜艇的艇长是谁？", QUESTION]
    assert items[0]["review"] is True
    assert items[0]["source"] == "sub.md"
    assert items[0]["comment"] == "答非所问"
    assert items[1]["source"] == "用户纠正 #1"
    assert items[1]["evidence"] == CORRECTED[:30]
    assert items[1]["correction"] == CORRECTED


def test_bad_cases_survive_conversation_delete(assistant):
    conversation_id, result = chat_once(assistant)
    assistant.feedback("s", result.message_id, -1)

    assistant.conversations.delete(conversation_id, "s")

    assert [item["question"] for item in assistant.bad_cases()] == [QUESTION]


def test_exported_correction_evaluates_as_hit(assistant):
    _, result = chat_once(assistant)
    assistant.correct("s", result.message_id, CORRECTED)
    item = assistant.bad_cases()[0]

    report = evaluate(assistant.knowledge_bases, [QAItem(id=item["id"], question=item["question"],
                                                         source=item["source"], evidence=item["evidence"],
                                                         kind=item["kind"])], ["档案"])

    assert report["overall"]["hit@1"] == 1.0


def test_cli_export_bad_cases(assistant, tmp_path, capsys):
    _, wrong = chat_once(assistant, "红隼号潜艇的艇长是谁？")
    assistant.feedback("s", wrong.message_id, -1)
    _, corrected = chat_once(assistant)
    assistant.correct("s", corrected.message_id, CORRECTED)
    output = tmp_path / "bad.jsonl"

    exit_code = main(["eval", "export-bad-cases", "--output", str(output)])
    qa_set = load_qa(output)

    assert exit_code == 0
    assert len(output.read_text(encoding="utf-8").splitlines()) == 2
    assert [item.source for item in qa_set.items] == ["用户纠正 #1"]
    assert qa_set.skipped_for_review == ["feedback-1"]
    assert "1 need review" in capsys.readouterr().err


def test_cli_eval_exported_cases(assistant, tmp_path, capsys):
    _, corrected = chat_once(assistant)
    assistant.correct("s", corrected.message_id, CORRECTED)
    output = tmp_path / "bad.jsonl"
    main(["eval", "export-bad-cases", "--output", str(output)])
    capsys.readouterr()

    exit_code = main(["eval", str(output), "--kb", "档案", "--json"])
    report = json.loads(capsys.readouterr().out)

    assert exit_code == 0
    assert report["overall"]["hit@1"] == 1.0


def test_unrelated_correction_not_quoted(settings, tmp_path):
    from llm_universe.service import Assistant

    assistant = Assistant(settings)
    assistant.knowledge_bases.create("库")
    note = tmp_path / "ship.md"
    note.write_text("蓝鲸号飞船的船长叫做林默。红隼号潜艇的艇长叫做苏晴。", encoding="utf-8")
    assistant.knowledge_bases.ingest([note], "库")
    conversation = assistant.conversations.create("s1")
    first = list(assistant.chat("s1", conversation.id, "蓝鲸号飞船的船长是谁？", ["库"]))[-1]
    assistant.correct("s1", first.message_id, "蓝鲸号飞船的船长是林默上校。", "库")

    result = list(assistant.ask("红隼号潜艇的艇长是谁？", ["库"]))[-1]

    assert "问题：" not in result.answer
    assert result.used_correction is False
