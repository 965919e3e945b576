"""OpenAI and OpenAI-compatible chat endpoints (Ollama, vLLM, llama.cpp server, DeepSeek, DashScope) through `langchain-openai`.

OpenAI itself gets `ChatOpenAI`, which sends `max_completion_tokens` and may use the Responses API.
Every other server gets `BaseChatOpenAI`, which sends plain chat completions with `max_tokens`, the
form those servers understand. `OpenAICompatibleChatModel` is also the base of the Spark model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import BaseChatOpenAI
from pydantic import Field

from llm_universe.llms.errors import retry_check
from llm_universe.llms.retry import RetryPolicy, call_with_retry, stream_with_retry

# The openai SDK requires some key; servers that need none (Ollama, a local vLLM) ignore it.
PLACEHOLDER_KEY = "not-needed"


class RetryingChatOpenAI(BaseChatOpenAI):
    """A langchain-openai chat model whose retries follow the shared `RetryPolicy` instead of the SDK's own.

    A request is retried on rate limits and server errors only until the first chunk arrives;
    `vendor` selects how error bodies are read (see `llms.errors.VENDOR_MODULES`).
    """

    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    vendor: str = "openai"

    def _stream(self, messages, stop=None, run_manager=None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        parent_stream = super()._stream
        yield from stream_with_retry(lambda: parent_stream(messages, stop, run_manager, **kwargs),
                                     self.retry_policy, retry_check(self.vendor), self._description())

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        parent_generate = super()._generate
        return call_with_retry(lambda: parent_generate(messages, stop, run_manager, **kwargs),
                               self.retry_policy, retry_check(self.vendor), self._description())

    def _description(self) -> str:
        return f"{self.vendor} chat request (model {self.model_name})"


class OpenAIChatModel(RetryingChatOpenAI, ChatOpenAI):
    """OpenAI's own API, with the shared retries."""


class OpenAICompatibleChatModel(RetryingChatOpenAI):
    """Plain chat completions for any OpenAI-compatible server, with the shared retries."""


def chat_model_arguments(target) -> dict[str, Any]:
    """Return the arguments shared by every OpenAI-style provider: streaming, no SDK retries."""
    return {
        "model": target.model,
        "api_key": target.api_key or PLACEHOLDER_KEY,
        "base_url": target.base_url,
        "temperature": target.temperature,
        "timeout": target.timeout,
        "max_tokens": target.max_tokens,
        "max_retries": 0,
        "streaming": True,
        "retry_policy": target.retry_policy,
        "vendor": target.spec.vendor,
    }


def build_chat_model(target) -> RetryingChatOpenAI:
    """Return a streaming chat model for an OpenAI (`openai`) or OpenAI-compatible `target`."""
    model_class = OpenAIChatModel if target.spec.id == "openai" else OpenAICompatibleChatModel
    return model_class(**chat_model_arguments(target))
