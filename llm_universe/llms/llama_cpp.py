"""A GGUF model file run in this process by `llama-cpp-python` (optional package).

The model path (LLAMA_CPP_MODEL_PATH) is the "model" of this provider. The registry checks that the
package is installed and the file exists before a chat model is built. A loaded model is kept for the
life of the process, because loading one takes seconds to minutes and it keeps no per-user state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from llm_universe.errors import ConfigurationError
from llm_universe.llms.errors import provider_error

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 4096
ROLES = {"system": "system", "human": "user", "ai": "assistant"}

_models: dict[tuple[str, int], Any] = {}
_models_lock = threading.Lock()


class LlamaCppChatModel(BaseChatModel):
    """LangChain chat model over `llama_cpp.Llama.create_chat_completion`; streamed chunks end with `finish_reason`."""

    model_path: str
    n_ctx: int = DEFAULT_CONTEXT_TOKENS
    temperature: float = 0.1
    max_tokens: int | None = None
    spec: Any = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _stream(self, messages: list[BaseMessage], stop=None, run_manager=None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        try:
            for chunk in self._load().create_chat_completion(**self._request(messages, stop, stream=True)):
                choice = chunk["choices"][0]
                reason = choice.get("finish_reason")
                metadata = {"finish_reason": reason, "model_name": Path(self.model_path).name} if reason else {}
                generation = ChatGenerationChunk(message=AIMessageChunk(
                    content=choice.get("delta", {}).get("content") or "", response_metadata=metadata))
                if run_manager:
                    run_manager.on_llm_new_token(generation.text, chunk=generation)
                yield generation
        except ValueError as error:
            # llama-cpp raises ValueError for a prompt longer than the context window.
            raise provider_error("rejected", self.spec, detail=str(error)[:200]) from error

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        try:
            reply = self._load().create_chat_completion(**self._request(messages, stop, stream=False))
        except ValueError as error:
            raise provider_error("rejected", self.spec, detail=str(error)[:200]) from error
        choice = reply["choices"][0]
        message = AIMessage(content=choice["message"].get("content") or "",
                            response_metadata={"finish_reason": choice.get("finish_reason")})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _request(self, messages: list[BaseMessage], stop, stream: bool) -> dict:
        request: dict[str, Any] = {
            "messages": [{"role": ROLES.get(message.type, "user"), "content": message.text} for message in messages],
            "temperature": self.temperature,
            "stream": stream,
        }
        if self.max_tokens is not None:
            request["max_tokens"] = self.max_tokens
        if stop:
            request["stop"] = stop
        return request

    def _load(self):
        key = (str(Path(self.model_path).expanduser()), self.n_ctx)
        with _models_lock:
            if key not in _models:
                _models[key] = self._open(*key)
            return _models[key]

    def _open(self, path: str, n_ctx: int):
        try:
            from llama_cpp import Llama
        except ImportError:
            raise provider_error("missing_dependency", self.spec, package=self.spec.package,
                                 command=self.spec.install_command) from None
        logger.info("loading GGUF model %s (context %d tokens)", path, n_ctx)
        try:
            return Llama(model_path=path, n_ctx=n_ctx, verbose=False)
        except (OSError, ValueError, RuntimeError) as error:
            raise provider_error("model_file_invalid", self.spec, path=path, detail=str(error)[:200]) from error


def build_chat_model(target) -> LlamaCppChatModel:
    """Return a chat model over the GGUF file `target.model`; the file is loaded on the first request."""
    return LlamaCppChatModel(model_path=target.model, n_ctx=_context_tokens(target.options),
                             temperature=target.temperature, max_tokens=target.max_tokens, spec=target.spec)


def _context_tokens(options: dict[str, str]) -> int:
    raw = options.get("LLAMA_CPP_N_CTX")
    if not raw:
        return DEFAULT_CONTEXT_TOKENS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigurationError(name="LLAMA_CPP_N_CTX", value=raw, reason="must be a whole number > 0")
    return value
