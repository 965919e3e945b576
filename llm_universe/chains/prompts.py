"""Prompts sent to chat models. They are Chinese and ground the answer in numbered sources.

Which system prompt is used depends on the knowledge base's answer policy and on the relevance
gate (see `chains/qa.py`): grounded answers only ('strict', 'balanced'), a second chance when the
gate found nothing relevant ('balanced'), or general knowledge allowed and labelled ('open').
"""

from __future__ import annotations

NOT_FOUND_ZH = "知识库中没有找到相关内容"

_RULES_ZH = """- 在用到资料的句子末尾用方括号标注资料编号，例如 [1] 或 [2]，只能使用下面列出的编号；
- 标为「用户纠正」的资料是用户确认过的答案，与其他资料冲突时以它为准；
- 用户用中文提问就用简体中文回答，用英文提问就用英文回答；回答简洁、准确。"""

SYSTEM_PROMPT_ZH = """你是一个严谨的知识库问答助手。请只根据下面编号的资料回答用户的问题：
""" + _RULES_ZH + f"""
- 资料中没有答案时，直接回答「{NOT_FOUND_ZH}」，不要编造。

资料：
{{sources}}"""

# Balanced policy, gate failed: the nearest sources scored low but may still hold the answer.
LOW_RELEVANCE_PROMPT_ZH = """你是一个严谨的知识库问答助手。下面编号的资料是检索到的最接近的内容，但相关性较低，很可能不包含答案。
- 只有资料中确实有答案时才回答，并按下面的规则标注；
""" + _RULES_ZH + f"""
- 资料中没有答案时，只回答「{NOT_FOUND_ZH}」，不要用资料以外的知识作答。

资料：
{{sources}}"""

# Open policy, gate passed: sources first, general knowledge allowed when marked.
OPEN_PROMPT_ZH = """你是一个知识库问答助手。请优先根据下面编号的资料回答用户的问题：
""" + _RULES_ZH + """
- 资料不足时可以补充你的通用知识，但要在这部分内容前写明「（通用知识）」，并且不要为它标注资料编号。

资料：
{sources}"""

# Open policy, gate failed: general knowledge only; the chain labels the answer as such.
GENERAL_PROMPT_ZH = """你是一个知识助手。知识库中没有找到与用户问题相关的资料，请根据你的通用知识简洁、准确地回答，不要标注资料编号；不确定时直接说不知道。
用户用中文提问就用简体中文回答，用英文提问就用英文回答。"""

NO_SOURCES_ZH = "（本次检索没有找到资料）"
HISTORY_SUMMARY_ZH = "（更早的对话已省略，其中用户问过：{questions}）"


def source_block(source) -> str:
    """Return a source as it appears in the prompt: `[n] 来源：file 第 p 页` (or 用户纠正) and its text."""
    page = f" 第 {source.page} 页" if source.page else ""
    origin = f"用户纠正（{source.source}）" if getattr(source, "is_correction", False) else f"{source.source}{page}"
    return f"[{source.index}] 来源：{origin}\n{source.text.strip()}"


def build_system_prompt(sources, lang: str = "zh", template: str = SYSTEM_PROMPT_ZH) -> str:
    """Return `template` with each source as a numbered block (see `source_block`)."""
    if "{sources}" not in template:
        return template
    if not sources:
        return template.format(sources=NO_SOURCES_ZH)
    return template.format(sources="\n\n".join(source_block(source) for source in sources))
