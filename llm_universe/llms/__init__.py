"""LLM providers behind one registry; see `get_chat_model` and `PROVIDERS`."""

from llm_universe.llms.registry import PROVIDERS, ChatTarget, ProviderSpec, get_chat_model, resolve_target

__all__ = ["PROVIDERS", "ChatTarget", "ProviderSpec", "get_chat_model", "resolve_target"]
