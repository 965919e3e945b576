"""Hybrid retrieval, the relevance gate, answer policies, the token budget, citations and the retrieval trace."""

from __future__ import annotations

import pytest

from llm_universe.chains.budget import (
    PromptTooLong,
    context_window,
    estimate_tokens,
    fit_prompt,
)
from llm_universe.chains.citations import CitationFilter, clean_markers, find_highlights
from llm_universe.chains.prompts import source_block
from llm_universe.chains.qa import AnswerResult, Source
from llm_universe.config import Settings
from llm_universe.errors import ConfigurationError
from llm_universe.llms.registry import resolve_target
from llm_universe.retrieval import hybrid_search, question_similarity, select_mmr
from llm_universe.service import Assistant
from method_docs import FEWSHOT, METHODS

DEVICES = """# 设备档案

设备编号 XK-7742 的维修周期是九十天，由第三车间负责保养。
设备编号 XK-1180 已于去年报废，不再安排维修。
"""


def collect(events) -> tuple[list[str], AnswerResult]:
    events = list(events)
    assert isinstance(events[-1], AnswerResult)
    return events[:-1], events[-1]


def make_assistant(settings: Settings, tmp_path, **changes) -> Assistant:
    assistant = Assistant(settings.replace(**changes) if changes else settings)
    assistant.knowledge_bases.create("笔记")
    for name, text in [("methods.md", METHODS), ("fewshot.md", FEWSHOT), ("devices.md", DEVICES)]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        assistant.knowledge_bases.ingest([tmp_path / name], "笔记")
    return assistant


@pytest.fixture
def assistant(settings, tmp_path) -> Assistant:
    return make_assistant(settings, tmp_path, chunk_size=120, chunk_overlap=0)


def test_hybrid_exact_code_first(assistant):
    result = hybrid_search(assistant.knowledge_bases, ["笔记"], "XK-7742 的维修周期是多久？")

    top = result.chunks[0]
    assert top.source == "devices.md"
    assert "XK-7742" in top.text
    assert top.bm25_rank == 1


def test_hybrid_scores_every_chunk(assistant):
    result = hybrid_search(assistant.knowledge_bases, ["笔记"], "思维链提示的缺点")

    for chunk in result.chunks:
        assert chunk.dense_score is not None
        assert chunk.fused_score > 0
    assert set(result.chunks[0].to_dict()) >= {"dense_score", "dense_rank", "bm25_score", "bm25_rank", "fused_score"}


def test_fusion_weighted_reciprocal_rank(assistant):
    settings = assistant.settings.replace(dense_weight=1.0, lexical_weight=2.0, rrf_k=2)

    result = hybrid_search(assistant.knowledge_bases, ["笔记"], "XK-7742 的维修周期是多久？", settings)

    top = result.chunks[0]
    expected = (1.0 / (2 + top.dense_rank) if top.dense_rank else 0.0) + 2.0 / (2 + top.bm25_rank)
    assert top.fused_score == pytest.approx(expected)


def test_dense_mode_orders_by_cosine(assistant):
    result = hybrid_search(assistant.knowledge_bases, ["笔记"], "少样本提示的示例", mode="dense")

    scores = [chunk.dense_score for chunk in result.chunks]
    assert scores == sorted(scores, reverse=True)
    assert all(chunk.bm25_rank is None for chunk in result.chunks)


def test_lexical_mode_orders_by_bm25(assistant):
    result = hybrid_search(assistant.knowledge_bases, ["笔记"], "维修周期", mode="lexical")

    ranks = [chunk.bm25_rank for chunk in result.chunks]
    assert ranks == list(range(1, len(ranks) + 1))


def test_unknown_mode_rejected(assistant):
    with pytest.raises(ValueError, match="unknown retrieval mode 'sparse'"):
        hybrid_search(assistant.knowledge_bases, ["笔记"], "问题", mode="sparse")


def test_mmr_skips_near_duplicates(settings, tmp_path):
    assistant = Assistant(settings.replace(chunk_size=200, chunk_overlap=0))
    assistant.knowledge_bases.create("重复")
    same = "蓝鲸号飞船的主引擎是离子推进器，航速很快。\n"
    for number in range(3):
        (tmp_path / f"copy{number}.md").write_text(same + f"副本编号 {number}。\n", encoding="utf-8")
    (tmp_path / "other.md").write_text("蓝鲸号飞船的船长叫做林默，他出生在火星。\n", encoding="utf-8")
    assistant.knowledge_bases.ingest(list(tmp_path.glob("*.md")), "重复")

    plain = hybrid_search(assistant.knowledge_bases, ["重复"], "蓝鲸号飞船的主引擎", k=2, use_mmr=False)
    varied = hybrid_search(assistant.knowledge_bases, ["重复"], "蓝鲸号飞船的主引擎", k=2,
                           settings=assistant.settings.replace(mmr_lambda=0.3), use_mmr=True)

    assert [chunk.source for chunk in plain.chunks].count("other.md") == 0
    assert "other.md" in [chunk.source for chunk in varied.chunks]


def test_mmr_keeps_short_lists(assistant):
    result = hybrid_search(assistant.knowledge_bases, ["笔记"], "维修周期", k=3)

    assert select_mmr(result.chunks, 5, 0.5) == result.chunks


def test_search_several_kbs_different_models(settings, tmp_path, fake_openai):
    configured = settings.with_provider_values({"OPENAI_API_KEY": "sk-embed", "OPENAI_BASE_URL": fake_openai.base_url})
    fake_kb = Assistant(configured)
    fake_kb.knowledge_bases.create("本地")
    (tmp_path / "methods.md").write_text(METHODS, encoding="utf-8")
    fake_kb.knowledge_bases.ingest([tmp_path / "methods.md"], "本地")
    openai_kb = Assistant(configured.replace(embedding_provider="openai"))
    openai_kb.knowledge_bases.create("远程")
    (tmp_path / "devices.md").write_text(DEVICES, encoding="utf-8")
    openai_kb.knowledge_bases.ingest([tmp_path / "devices.md"], "远程")

    result = hybrid_search(fake_kb.knowledge_bases, ["本地", "远程"], "XK-7742 的维修周期")

    providers = {chunk.knowledge_base: chunk.embedding_provider for chunk in result.candidates}
    assert providers == {"本地": "fake", "远程": "openai"}
    assert result.chunks[0].knowledge_base == "远程"


def test_gate_scores_related_higher(assistant):
    related = hybrid_search(assistant.knowledge_bases, ["笔记"], "设备编号 XK-7742 的维修周期")
    unrelated = hybrid_search(assistant.knowledge_bases, ["笔记"], "今天晚饭吃什么好呢")

    assert related.gate.score > unrelated.gate.score + 0.3


def test_gate_threshold_decides(assistant):
    score = hybrid_search(assistant.knowledge_bases, ["笔记"], "今天晚饭吃什么好呢").gate.score

    refused = hybrid_search(assistant.knowledge_bases, ["笔记"], "今天晚饭吃什么好呢", threshold=score + 0.01)
    passed = hybrid_search(assistant.knowledge_bases, ["笔记"], "今天晚饭吃什么好呢", threshold=score - 0.01)

    assert refused.gate.passed is False
    assert refused.gate.reason == "below_threshold"
    assert passed.gate.passed is True


def test_question_similarity_ignores_punctuation():
    assert question_similarity("蓝鲸号的船长是谁？", "蓝鲸号的船长是谁") == 1.0
    assert question_similarity("蓝鲸号的船长是谁", "红隼号潜艇能下潜多深") < 0.2


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LLM_UNIVERSE_LEXICAL_WEIGHT", "-1", "配置项 lexical_weight 的值无效：-1.0（must be >= 0）。"),
        ("LLM_UNIVERSE_RRF_K", "0", "配置项 rrf_k 的值无效：0（must be > 0）。"),
        ("LLM_UNIVERSE_MMR", "maybe", "配置项 LLM_UNIVERSE_MMR 的值无效：maybe（must be 1/0, true/false, yes/no or on/off）。"),
        ("LLM_UNIVERSE_MMR_LAMBDA", "1.5", "配置项 mmr_lambda 的值无效：1.5（must be 0-1）。"),
        ("LLM_UNIVERSE_ANSWER_POLICY", "loose", "配置项 answer_policy 的值无效：loose（must be one of strict, balanced, open）。"),
        ("LLM_UNIVERSE_CONTEXT_WINDOW", "100", "配置项 context_window 的值无效：100（must be >= 512 tokens）。"),
    ],
    ids=["negative-weight", "zero-rrf-k", "bad-flag", "mmr-lambda", "policy", "tiny-window"],
)
def test_retrieval_setting_invalid(variable, value, message):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.message("zh") == message


def test_retrieval_settings_from_env():
    settings = Settings.from_env({"LLM_UNIVERSE_LEXICAL_WEIGHT": "0.5", "LLM_UNIVERSE_RRF_K": "60",
                                  "LLM_UNIVERSE_MMR": "on", "LLM_UNIVERSE_RELEVANCE_THRESHOLD": "0.3"})

    assert settings.lexical_weight == 0.5
    assert settings.rrf_k == 60
    assert settings.use_mmr is True
    assert settings.relevance_threshold == 0.3


# Answer policies --------------------------------------------------------------------------------


def llm_assistant(settings, fake_openai, tmp_path, **changes) -> Assistant:
    configured = settings.replace(openai_api_key="sk-test", openai_base_url=fake_openai.base_url,
                                  openai_model="fake-model", chunk_size=120, chunk_overlap=0, **changes)
    return make_assistant(configured, tmp_path)


def test_strict_refuses_without_llm_call(settings, fake_openai, tmp_path):
    assistant = llm_assistant(settings, fake_openai, tmp_path, relevance_threshold=1.5)
    assistant.set_answer_policy("笔记", "strict")

    _, result = collect(assistant.ask("思维链提示有什么缺点？", ["笔记"]))

    assert fake_openai.chat_requests() == []
    assert result.answer.startswith("知识库中没有找到与该问题相关的内容。")
    assert result.label == "not_found"
    assert result.in_knowledge_base is False
    assert result.sources


def test_balanced_low_relevance_asks_llm(settings, fake_openai, tmp_path):
    assistant = llm_assistant(settings, fake_openai, tmp_path, relevance_threshold=1.5)

    _, result = collect(assistant.ask("思维链提示有什么缺点？", ["笔记"]))

    system = fake_openai.chat_requests()[-1]["body"]["messages"][0]["content"]
    assert "相关性较低" in system
    assert result.policy == "balanced"
    assert result.label == "knowledge_base"
    assert result.in_knowledge_base is False


def test_open_policy_general_answer(settings, fake_openai, tmp_path):
    assistant = llm_assistant(settings, fake_openai, tmp_path, relevance_threshold=1.5)
    assistant.set_answer_policy("笔记", "open")
    fake_openai.reply = "巴黎是法国的首都 [1]。"

    deltas, result = collect(assistant.ask("法国的首都是哪里？", ["笔记"]))

    system = fake_openai.chat_requests()[-1]["body"]["messages"][0]["content"]
    assert "通用知识" in system
    assert result.answer == "".join(deltas)
    assert result.answer.startswith("（以下回答来自模型的通用知识")
    assert "[1]" not in result.answer
    assert result.label == "general_knowledge"


def test_policy_strictest_of_kbs(settings, tmp_path):
    assistant = make_assistant(settings, tmp_path)
    assistant.knowledge_bases.create("第二")
    assistant.set_answer_policy("笔记", "open")
    assistant.set_answer_policy("第二", "strict")

    _, result = collect(assistant.ask("XK-7742 的维修周期", ["笔记", "第二"]))

    assert assistant.answer_policy("笔记") == "open"
    assert result.policy == "strict"


def test_policy_default_and_reset(settings, tmp_path):
    assistant = make_assistant(settings, tmp_path)

    assistant.set_answer_policy("笔记", "strict")
    assistant.set_answer_policy("笔记", None)

    assert assistant.knowledge_bases.get("笔记").answer_policy is None
    assert assistant.answer_policy("笔记") == "balanced"


def test_policy_invalid_rejected(settings, tmp_path):
    assistant = make_assistant(settings, tmp_path)

    with pytest.raises(ConfigurationError) as caught:
        assistant.set_answer_policy("笔记", "lenient")
    assert caught.value.message("en") == "Invalid value for answer_policy: lenient (must be one of strict, balanced, open)."


def test_ask_json_has_gate_and_label(assistant):
    _, result = collect(assistant.ask("设备编号 XK-7742 的维修周期", ["笔记"]))
    payload = result.to_dict()

    assert payload["in_knowledge_base"] is True
    assert payload["label"] == "knowledge_base"
    assert payload["sources"][0]["cited"] is True
    assert "trace" not in payload


# Token budget -----------------------------------------------------------------------------------


def test_estimate_tokens_cjk_and_latin():
    assert estimate_tokens("知识库") == 3
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("提示 prompt") == 2 + 2


def test_context_window_sources(settings):
    configured = settings.with_provider_values({"QIANFAN_API_KEY": "bce-v3/a/b"})

    assert context_window(resolve_target(configured, provider="ernie"), configured) == 128 * 1024
    assert context_window(resolve_target(configured, provider="ernie", model="ernie-lite-8k"), configured) == 8192
    assert context_window(resolve_target(configured.with_provider_values({"SPARK_API_PASSWORD": "x"}),
                                         provider="spark"), configured) == 4096
    assert context_window(None, configured.replace(context_window=2048)) == 2048


def budget_sources(count: int, chars: int) -> list[Source]:
    return [Source(index=i, source=f"f{i}.md", page=None, chunk_id=str(i), score=1 - i / 100, text="资" * chars,
                   knowledge_base="库") for i in range(1, count + 1)]


def test_budget_drops_lowest_sources():
    budget = fit_prompt("系统提示", "问题", [], budget_sources(5, 600), source_block, window=2048, answer_tokens=256)

    assert [source.index for source in budget.sources] == [1, 2]
    assert budget.dropped_sources == 3
    assert budget.tokens["prompt"] + 256 <= 2048


def test_budget_cuts_single_large_source():
    budget = fit_prompt("系统提示", "问题", [], budget_sources(1, 5000), source_block, window=1024, answer_tokens=256)

    assert len(budget.sources) == 1
    assert budget.truncated_source is True
    assert budget.sources[0].text.endswith("…")
    assert budget.tokens["prompt"] <= 1024


def test_budget_summarises_old_history():
    history = []
    for turn in range(10):
        history += [{"role": "user", "content": f"第{turn}个问题" + "问" * 200},
                    {"role": "assistant", "content": "答" * 300}]

    budget = fit_prompt("系统提示", "问题", history, budget_sources(2, 300), source_block, window=2048,
                        answer_tokens=256)

    assert len(budget.sources) == 2
    assert 0 < len(budget.history) < len(history)
    assert budget.history[0]["role"] == "user"
    assert budget.summary is not None
    assert budget.summary.startswith("（更早的对话已省略")
    assert budget.tokens["prompt"] + 256 <= 2048


def test_budget_question_too_long():
    with pytest.raises(PromptTooLong) as caught:
        fit_prompt("系统提示", "问" * 5000, [], [], source_block, window=1024, answer_tokens=256)
    assert "LLM_UNIVERSE_CONTEXT_WINDOW" in caught.value.message("zh")


def test_budget_keeps_request_in_window(settings, fake_openai, tmp_path):
    assistant = llm_assistant(settings, fake_openai, tmp_path, context_window=1024, answer_tokens=200,
                              relevance_threshold=0.0)
    conversation = assistant.conversations.create("s")
    for number in range(8):
        assistant.conversations.add_message(conversation.id, "s", "user", f"问题{number}" + "长" * 300)
        assistant.conversations.add_message(conversation.id, "s", "assistant", "回答" + "长" * 300)

    _, result = collect(assistant.chat("s", conversation.id, "思维链提示有什么缺点？", ["笔记"]))

    sent = fake_openai.chat_requests()[-1]["body"]["messages"]
    assert sum(estimate_tokens(message["content"]) + 4 for message in sent) <= 1024 - 200
    assert result.trace["tokens"]["dropped_history_messages"] > 0
    assert result.status == "complete"


# Citations and the trace ------------------------------------------------------------------------


def test_clean_markers_drops_unknown_numbers():
    assert clean_markers("甲 [1]，乙 [7]。丙 [2, 9]【3】", {1, 2, 3}) == "甲 [1]，乙。丙 [2]【3】"


def test_clean_markers_keeps_links():
    assert clean_markers("见 [9](https://example.org)", {1}) == "见 [9](https://example.org)"


def test_citation_filter_streamed_markers():
    streamed = CitationFilter({1, 2})
    text = "".join(streamed.feed(delta) for delta in ["答案 [", "1][", "5", "] 和 [2]", "。"]) + streamed.flush()

    assert text == "答案 [1] 和 [2]。"
    assert streamed.removed == [5]


def test_highlights_cited_sentence():
    answer = "思维链会让回答变长 [1]。"
    source = "思维链提示让模型先写推理步骤。思维链提示会让回答变长，消耗更多词元。"

    highlights = find_highlights(answer, {1: source, 2: "无关"})

    span = highlights[1][0]
    assert source[span.start:span.end] == "思维链提示会让回答变长，消耗更多词元。"
    assert 2 not in highlights


def test_llm_invalid_citation_removed(settings, fake_openai, tmp_path):
    assistant = llm_assistant(settings, fake_openai, tmp_path, relevance_threshold=0.0)
    fake_openai.reply = "思维链提示会让回答变长 [1][9]。"

    deltas, result = collect(assistant.ask("思维链提示有什么缺点？", ["笔记"]))

    assert result.answer == "思维链提示会让回答变长 [1]。"
    assert "".join(deltas) == result.answer
    assert result.trace["removed_citations"] == [9]
    assert result.sources[0].cited is True
    assert result.sources[0].highlights


def test_trace_has_scores_prompt_tokens_seconds(settings, fake_openai, tmp_path):
    assistant = llm_assistant(settings, fake_openai, tmp_path, relevance_threshold=0.0)

    _, result = collect(assistant.ask("思维链提示有什么缺点？", ["笔记"]))
    trace = result.to_dict(include_trace=True)["trace"]

    assert trace["retrieval_question"]["text"] == "思维链提示有什么缺点？"
    assert {"dense_score", "bm25_score", "fused_score", "selected", "excerpt"} <= set(trace["chunks"][0])
    assert trace["prompt"][0]["role"] == "system"
    assert trace["prompt"][-1] == {"role": "user", "content": "思维链提示有什么缺点？"}
    assert trace["tokens"]["prompt"] > 0
    assert {"condense", "retrieve", "generate", "total"} <= set(trace["seconds"])
