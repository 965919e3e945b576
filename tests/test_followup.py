"""Follow-up questions: the condense step with and without an LLM, the fallback, and re-running with an edited question."""

from __future__ import annotations

import pytest

from llm_universe.chains.condense import (
    CONDENSE_PROMPT_ZH,
    carry_key_terms,
    clean_rewrite,
    condense_question,
    is_followup,
    key_terms,
)
from llm_universe.chains.qa import AnswerResult
from llm_universe.errors import LLMUniverseError
from llm_universe.service import Assistant
from method_docs import FEWSHOT, METHODS

FIRST_QUESTION = "思维链提示有什么优点？"
FOLLOWUP = "那它的缺点呢？"


def collect(events) -> tuple[list[str], AnswerResult]:
    events = list(events)
    assert isinstance(events[-1], AnswerResult)
    return events[:-1], events[-1]


def build(settings, tmp_path) -> Assistant:
    assistant = Assistant(settings.replace(chunk_size=120, chunk_overlap=0))
    assistant.knowledge_bases.create("方法")
    for name, text in [("methods.md", METHODS), ("fewshot.md", FEWSHOT)]:
        (tmp_path / name).write_text(text, encoding="utf-8")
    assistant.knowledge_bases.ingest([tmp_path / "methods.md", tmp_path / "fewshot.md"], "方法")
    return assistant


@pytest.fixture
def assistant(settings, tmp_path) -> Assistant:
    return build(settings, tmp_path)


@pytest.fixture
def llm_assistant(settings, fake_openai, tmp_path) -> Assistant:
    configured = settings.replace(openai_api_key="sk-test", openai_base_url=fake_openai.base_url,
                                  openai_model="fake-model")
    return build(configured, tmp_path)


def ask_followup(assistant: Assistant) -> AnswerResult:
    conversation = assistant.conversations.create("s")
    collect(assistant.chat("s", conversation.id, FIRST_QUESTION, ["方法"]))
    _, result = collect(assistant.chat("s", conversation.id, FOLLOWUP, ["方法"]))
    return result


@pytest.mark.parametrize(
    ("question", "expected"),
    [("那它的缺点呢？", True), ("缺点呢？", True), ("其中哪一种最常用？", True), ("What are its drawbacks?", True),
     ("思维链提示有什么缺点？", False), ("当事人申请监督的期限是多久？", False)],
    ids=["pronoun", "bare-aspect", "qizhong", "english-pronoun", "self-contained", "regulation"],
)
def test_is_followup(question, expected):
    assert is_followup(question) is expected


@pytest.mark.parametrize(
    ("text", "terms"),
    [("什么是少样本提示（Few-shot）？", ["少样本提示", "Few-shot"]),
     ("基础LLM和指令微调LLM有什么不同", ["基础LLM", "指令微调LLM"]),
     ("南瓜书介绍了哪几种模型评估方法？", ["南瓜书", "模型评估方法"])],
    ids=["chinese-and-hyphen", "mixed-script", "question-word"],
)
def test_key_terms(text, terms):
    assert key_terms(text) == terms


@pytest.mark.parametrize(
    ("question", "earlier", "expected"),
    [("那它的缺点呢？", ["思维链提示有什么优点？"], "那思维链提示的缺点呢？"),
     ("这本书为什么叫这个名字？", ["蘑菇书一共有几章？"], "蘑菇书为什么叫这个名字？"),
     ("缺点呢？", ["思维链提示有什么优点？"], "思维链提示：缺点呢？"),
     ("它是谁提出的？", ["什么是少样本提示？", "那它的缺点呢？"], "少样本提示是谁提出的？")],
    ids=["replace-pronoun", "classifier-phrase", "prefix", "skip-earlier-followup"],
)
def test_carry_key_terms(question, earlier, expected):
    assert carry_key_terms(question, earlier) == expected


def test_condense_without_history_keeps_question():
    condensed = condense_question(FOLLOWUP, [])

    assert condensed.text == FOLLOWUP
    assert condensed.method == "none"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("改写后的问题：思维链提示有什么缺点？", "思维链提示有什么缺点？"),
     ("「思维链提示的缺点是什么？」", "思维链提示的缺点是什么？"),
     ("好的。", None),
     ("", None)],
    ids=["label", "quotes", "drops-own-terms", "empty"],
)
def test_clean_rewrite(reply, expected):
    history = [{"role": "user", "content": FIRST_QUESTION}]

    assert clean_rewrite(reply, FOLLOWUP, history) == expected


def test_followup_without_llm_carries_terms(assistant):
    result = ask_followup(assistant)

    assert result.rewritten_question == "那思维链提示的缺点呢？"
    assert result.rewrite_method == "keywords"
    assert result.sources[0].source == "methods.md"
    assert "回答变长" in result.sources[0].text


def test_followup_with_llm_rewrites(llm_assistant, fake_openai):
    fake_openai.reply = "思维链提示有什么缺点？"

    result = ask_followup(llm_assistant)

    condense_request = fake_openai.chat_requests()[-2]["body"]["messages"]
    assert condense_request[0]["role"] == "user"
    assert CONDENSE_PROMPT_ZH.splitlines()[0] in condense_request[0]["content"]
    assert "最新问题：那它的缺点呢？" in condense_request[0]["content"]
    assert result.rewritten_question == "思维链提示有什么缺点？"
    assert result.rewrite_method == "llm"
    assert result.sources[0].source == "methods.md"


def test_followup_answer_prompt_names_retrieval_question(llm_assistant, fake_openai):
    fake_openai.reply = "思维链提示有什么缺点？"

    ask_followup(llm_assistant)

    answer_request = fake_openai.chat_requests()[-1]["body"]["messages"]
    assert answer_request[-1]["content"] == "那它的缺点呢？\n（检索用问题：思维链提示有什么缺点？）"
    assert answer_request[1]["content"] == FIRST_QUESTION


def test_followup_unusable_llm_reply_falls_back(llm_assistant, fake_openai):
    fake_openai.reply = "好的，我明白了。"

    result = ask_followup(llm_assistant)

    assert result.rewrite_method == "keywords"
    assert result.rewritten_question == "那思维链提示的缺点呢？"


def test_followup_llm_failure_falls_back(llm_assistant, fake_openai):
    conversation = llm_assistant.conversations.create("s")
    collect(llm_assistant.chat("s", conversation.id, FIRST_QUESTION, ["方法"]))
    fake_openai.fault = "401"
    fake_openai.fault_times = 1

    _, result = collect(llm_assistant.chat("s", conversation.id, FOLLOWUP, ["方法"]))

    assert result.rewrite_method == "keywords"
    assert result.status == "complete"
    assert "OPENAI_API_KEY" in result.trace["retrieval_question"]["error"]


def test_self_contained_question_not_rewritten(llm_assistant, fake_openai):
    conversation = llm_assistant.conversations.create("s")
    collect(llm_assistant.chat("s", conversation.id, FIRST_QUESTION, ["方法"]))
    before = len(fake_openai.chat_requests())

    _, result = collect(llm_assistant.chat("s", conversation.id, "少样本提示有什么缺点？", ["方法"]))

    assert len(fake_openai.chat_requests()) == before + 1
    assert result.rewrite_method == "none"


def test_rerun_with_edited_question(assistant):
    conversation = assistant.conversations.create("s")
    collect(assistant.chat("s", conversation.id, FIRST_QUESTION, ["方法"]))
    _, first = collect(assistant.chat("s", conversation.id, FOLLOWUP, ["方法"]))

    _, rerun = collect(assistant.rerun("s", conversation.id, "少样本提示的缺点", ["方法"]))

    messages = assistant.conversations.messages(conversation.id, "s")
    assert rerun.rewritten_question == "少样本提示的缺点"
    assert rerun.rewrite_method == "edited"
    assert rerun.message_id == first.message_id
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[-1].content == rerun.answer
    assert messages[-1].sources[0]["source"] == "fewshot.md"
    assert assistant.message_details("s", rerun.message_id)["retrieval_question"] == "少样本提示的缺点"


def test_rerun_empty_conversation(assistant):
    conversation = assistant.conversations.create("s")

    with pytest.raises(LLMUniverseError) as caught:
        list(assistant.rerun("s", conversation.id, "问题", ["方法"]))
    assert caught.value.message("zh") == "这个对话里还没有可以重新检索的问题。"


def test_ask_with_retrieval_question(assistant):
    _, result = collect(assistant.ask(FOLLOWUP, ["方法"], retrieval_question="少样本提示的缺点"))

    assert result.rewritten_question == "少样本提示的缺点"
    assert result.sources[0].source == "fewshot.md"


def test_followup_real_model(real_settings):
    """With the bundled model and no LLM, 「那它的缺点呢？」 after a question about Python retrieves Python sources."""
    from conftest import corpus_file

    assistant = Assistant(real_settings)
    assistant.knowledge_bases.create("资料")
    assistant.knowledge_bases.ingest([corpus_file("extra/oi-wiki/python.md"), corpus_file("extra/oi-wiki/op.md"),
                                      corpus_file("llm-universe/knowledge_db/prompt_engineering/2. 提示原则 Guidelines.md")],
                                     "资料")
    conversation = assistant.conversations.create("s")
    collect(assistant.chat("s", conversation.id, "Python 有哪些优点？", ["资料"]))

    _, result = collect(assistant.chat("s", conversation.id, FOLLOWUP, ["资料"]))

    assert result.rewritten_question == "那Python的缺点呢？"
    assert [source.source for source in result.sources[:3]] == ["python.md"] * 3
