"""LLM providers behind one registry; see `resolve_target`, `get_chat_model`, `check_connection` and `PROVIDERS`."""

from llm_universe.llms.registry import PROVIDERS, ChatTarget, ProviderSpec, get_chat_model, get_provider, resolve_target

__all__ = ["PROVIDERS", "ChatTarget", "ProviderSpec", "get_chat_model", "get_provider", "resolve_target"]
