"""A deterministic chat model for tests and demos: it quotes the first numbered source of the prompt."""

from __future__ import annotations

import re
from collections.abc import Iterator

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class FakeChatModel(BaseChatModel):
    """Answers "根据资料 [1]：<first source line>", streamed a few characters at a time."""

    @property
    def _llm_type(self) -> str:
        return "fake-echo"

    def _reply(self, messages: list[BaseMessage]) -> str:
        system = str(messages[0].content) if messages else ""
        match = re.search(r"^\[1\][^\n]*\n(.+)$", system, flags=re.MULTILINE)
        quoted = match.group(1).strip()[:120] if match else "知识库中没有找到相关内容。"
        return f"根据资料 [1]：{quoted}"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        for start in range(0, len(reply), 8):
            yield ChatGenerationChunk(message=AIMessageChunk(content=reply[start:start + 8]))
        yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata={"finish_reason": "stop"}))


def build_chat_model(target) -> FakeChatModel:
    """Return the fake chat model; `target` is ignored."""
    return FakeChatModel()
