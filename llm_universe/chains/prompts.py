"""Prompts sent to chat models. The system prompt is Chinese and grounds the answer in numbered sources."""

from __future__ import annotations

SYSTEM_PROMPT_ZH = """你是一个严谨的知识库问答助手。请只根据下面编号的资料回答用户的问题：
- 在用到资料的句子末尾用方括号标注资料编号，例如 [1] 或 [2]；
- 资料中没有答案时，直接回答「知识库中没有找到相关内容」，不要编造；
- 用户用中文提问就用简体中文回答，用英文提问就用英文回答；回答简洁、准确。

资料：
{sources}"""

NO_SOURCES_ZH = "（本次检索没有找到资料）"


def build_system_prompt(sources, lang: str = "zh") -> str:
    """Return the system prompt with each source as `[n] 来源：file, page` followed by its text."""
    if not sources:
        return SYSTEM_PROMPT_ZH.format(sources=NO_SOURCES_ZH)
    blocks = []
    for source in sources:
        page = f" 第 {source.page} 页" if source.page else ""
        blocks.append(f"[{source.index}] 来源：{source.source}{page}\n{source.text.strip()}")
    return SYSTEM_PROMPT_ZH.format(sources="\n\n".join(blocks))
