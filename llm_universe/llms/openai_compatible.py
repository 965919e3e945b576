"""OpenAI and OpenAI-compatible chat endpoints through `langchain-openai`."""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_openai import ChatOpenAI


def build_chat_model(target) -> BaseChatModel:
    """Return a streaming `ChatOpenAI` for `target`; retries are left to the caller's error handling."""
    return ChatOpenAI(
        model=target.model,
        api_key=target.api_key or "not-needed",
        base_url=target.base_url,
        temperature=target.temperature,
        timeout=target.timeout,
        max_retries=1,
        streaming=True,
    )
