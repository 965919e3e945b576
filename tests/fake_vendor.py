"""A fake LLM vendor server on 127.0.0.1 for tests, with fault injection.

It speaks one vendor's dialect of the chat-completions wire format (JSON and SSE streaming), plus
`/embeddings` and `/models` where that vendor offers them. It records every request it receives, and
its `fault` attribute makes it fail in a chosen way. Dialects and the path prefix their SDK or client uses:

- `openai`: `/v1` (OpenAI, and every OpenAI-compatible server);
- `zhipu`: `/api/paas/v4`, the paths the zhipuai SDK calls; errors as {"error": {"code": "1211", ...}};
- `spark`: `/v1`; every reply carries `code`/`message`/`sid`. Rate limits arrive as HTTP 200 with a
  non-zero code, also inside a stream. Streamed chunks have no finish_reason, and the last one carries usage;
- `qianfan`: `/v2`; errors as {"id": "as-…", "error": {"code", "message", "type"}}, an unknown model as
  HTTP 400 `invalid_model`.

NOTE: the Spark and Qianfan shapes follow those vendors' public documentation as of 2025 and were
not checked against the live services.

Run it standalone for manual tries: `python tests/fake_vendor.py --port 8765 --dialect zhipu`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = (None, "401", "403", "404", "429", "quota", "500", "503", "malformed", "cut", "timeout")
STATUS_FAULTS = {"401", "403", "404", "429", "quota", "500", "503"}
PREFIXES = {"openai": "/v1", "zhipu": "/api/paas/v4", "spark": "/v1", "qianfan": "/v2"}
EMBEDDING_DIALECTS = {"openai", "zhipu"}
DEFAULT_EMBEDDING_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "embedding-3": 2048}
ZHIPU_BATCH_LIMIT = 64

OPENAI_ERRORS = {
    "401": (401, {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}),
    "403": (403, {"message": "Country, region, or territory not supported", "type": "request_forbidden",
                  "code": "unsupported_country_region_territory"}),
    "404": (404, {"message": "The model does not exist or you do not have access to it.",
                  "type": "invalid_request_error", "code": "model_not_found"}),
    "429": (429, {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}),
    "quota": (429, {"message": "You exceeded your current quota.", "type": "insufficient_quota",
                    "code": "insufficient_quota"}),
    "500": (500, {"message": "The server had an error while processing your request.", "type": "server_error"}),
    "503": (503, {"message": "The engine is currently overloaded.", "type": "server_error"}),
}
ZHIPU_ERRORS = {
    "401": (401, {"code": "1002", "message": "Authorization Token非法，请确认Authorization Token正确传递。"}),
    "403": (403, {"code": "1220", "message": "您无权访问该 API。"}),
    "404": (400, {"code": "1211", "message": "模型不存在，请检查模型代码。"}),
    "429": (429, {"code": "1302", "message": "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"}),
    "quota": (429, {"code": "1113", "message": "您的账户已欠费，请充值后重试。"}),
    "500": (500, {"code": "500", "message": "Internal Error"}),
    "503": (503, {"code": "500", "message": "服务暂时不可用"}),
}
# Spark: None as status means HTTP 200 with the error code inside the body or the stream.
SPARK_ERRORS = {
    "401": (401, {"code": 10401, "message": "Unauthorized: invalid APIPassword"}),
    "403": (403, {"code": 11200, "message": "授权错误：该appId没有相关功能的授权 或者 业务量超过限制"}),
    "404": (404, {"code": 10404, "message": "model not found"}),
    "429": (None, {"code": 11202, "message": "授权错误：秒级流控超限。秒级并发超过授权路数限制"}),
    "quota": (None, {"code": 11201, "message": "授权错误：日流控超限。超过当日最大访问量的限制"}),
    "500": (500, {"code": 10000, "message": "服务内部错误"}),
    "503": (503, {"code": 10110, "message": "服务忙，请稍后再试"}),
}
QIANFAN_ERRORS = {
    "401": (401, {"code": "invalid_iam_token", "message": "IAM Certification failed", "type": "invalid_request_error"}),
    "403": (403, {"code": "access_denied", "message": "no permission to access the model", "type": "access_denied"}),
    "404": (400, {"code": "invalid_model", "message": "model not exist or no permission", "type": "invalid_request_error"}),
    "429": (429, {"code": "rpm_rate_limit_exceeded", "message": "Rpm limit exceeded", "type": "rate_limit_exceeded"}),
    "500": (500, {"code": "internal_error", "message": "Internal error", "type": "internal_error"}),
    "503": (503, {"code": "server_high_load", "message": "server high load", "type": "server_high_load"}),
}


class FakeVendorServer:
    """Start with `start()`, stop with `stop()`; `base_url` is what the provider's base-URL variable takes.

    `fault` is one of FAULTS; with `fault_times` set, the fault applies to that many requests only and
    later ones succeed. `reply` overrides the answer text (by default it quotes the start of source [1]
    of the system prompt). The 'timeout' fault holds the request `hang_seconds` before closing it
    without a reply, and `stop()` releases it. `models` is the list `/models` returns (None: HTTP 404).
    `embedding_dimension` overrides the length of the vectors `/embeddings` returns.
    """

    def __init__(self, chunk_chars: int = 6, delay: float = 0.01, dialect: str = "openai",
                 hang_seconds: float = 30.0) -> None:
        if dialect not in PREFIXES:
            raise ValueError(f"dialect must be one of {sorted(PREFIXES)}, got {dialect!r}")
        self.dialect = dialect
        self.requests: list[dict] = []
        self.fault: str | None = None
        self.fault_times: int | None = None
        self.reply: str | None = None
        self.models: list[str] | None = ["fake-model"] if dialect == "openai" else None
        self.embedding_dimension: int | None = None
        self.chunk_chars = chunk_chars
        self.delay = delay
        self.hang_seconds = hang_seconds
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def prefix(self) -> str:
        return PREFIXES[self.dialect]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def start(self) -> FakeVendorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def chat_requests(self) -> list[dict]:
        """Return the recorded chat-completion requests, oldest first."""
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def embedding_requests(self) -> list[dict]:
        """Return the recorded embedding requests, oldest first."""
        return [r for r in self.requests if r["path"].endswith("/embeddings")]

    def answer_for(self, body: dict) -> str:
        """Return the reply text for a chat request."""
        if self.reply is not None:
            return self.reply
        system = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system"), "")
        match = re.search(r"^\[1\][^\n]*\n(.+)$", str(system), flags=re.MULTILINE)
        quoted = match.group(1).strip()[:40] if match else "没有资料"
        return f"【测试模型】根据资料 [1]：{quoted}"

    def take_fault(self) -> str | None:
        """Return the fault for the request being handled, counting down `fault_times`."""
        with self._lock:
            fault = self.fault
            if fault is not None and self.fault_times is not None:
                self.fault_times -= 1
                if self.fault_times <= 0:
                    self.fault, self.fault_times = None, None
            return fault

    def error_response(self, fault: str) -> tuple[int | None, dict]:
        """Return (HTTP status, body) of a status fault in this dialect; status None means an in-band error."""
        tables = {"zhipu": ZHIPU_ERRORS, "spark": SPARK_ERRORS, "qianfan": QIANFAN_ERRORS}
        status, error = tables.get(self.dialect, OPENAI_ERRORS).get(fault) or OPENAI_ERRORS[fault]
        if self.dialect == "spark":
            return status, {**error, "sid": "cha000fake@dx0000"}
        if self.dialect == "qianfan":
            return status, {"id": "as-fake", "error": error}
        return status, {"error": error}

    def chunk(self, body: dict, content: str | None, finish_reason: str | None, final: bool = False) -> dict:
        """Return one streamed chunk in this dialect; `final` marks the last one (Spark puts usage there)."""
        delta = {"role": "assistant", "content": content} if content is not None else {}
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        if self.dialect == "spark":
            choice = {"index": 0, "delta": {"role": "assistant", "content": content or ""}}
            payload = {"code": 0, "message": "Success", "sid": "cha000fake@dx0000", "id": "cha000fake@dx0000",
                       "created": int(time.time()), "choices": [choice]}
            if final:
                payload["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            return payload
        payload = {"id": "as-fake" if self.dialect == "qianfan" else "chatcmpl-fake", "created": int(time.time()),
                   "model": body.get("model", "fake-model"), "choices": [choice]}
        if self.dialect != "zhipu":
            payload["object"] = "chat.completion.chunk"
        elif final:
            payload["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        return payload

    def completion(self, body: dict, text: str) -> dict:
        """Return a non-streamed chat completion in this dialect."""
        payload = {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(text), "total_tokens": 10 + len(text)},
        }
        if self.dialect == "spark":
            payload.update({"code": 0, "message": "Success", "sid": "cha000fake@dx0000"})
        return payload

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append({"method": "GET", "path": self.path, "headers": self._headers(), "body": None})
                fault = server.take_fault()
                if self.path.rstrip("/") == server.prefix + "/models" and server.models is not None:
                    if fault in STATUS_FAULTS:
                        self._status_fault(fault, stream=False)
                        return
                    self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
                else:
                    self._not_found()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"method": "POST", "path": self.path, "headers": self._headers(), "body": body})
                path = self.path.rstrip("/")
                if path == server.prefix + "/chat/completions":
                    self._chat(body, server.take_fault())
                elif path == server.prefix + "/embeddings" and server.dialect in EMBEDDING_DIALECTS:
                    self._embeddings(body, server.take_fault())
                else:
                    self._not_found()

            def _headers(self) -> dict[str, str]:
                return {k.lower(): v for k, v in self.headers.items()}

            def _chat(self, body: dict, fault: str | None) -> None:
                stream = bool(body.get("stream"))
                if fault in STATUS_FAULTS:
                    self._status_fault(fault, stream)
                elif fault == "timeout":
                    self._hang()
                elif fault == "malformed":
                    self._malformed(stream)
                elif stream:
                    self._stream(body, server.answer_for(body), cut=fault == "cut")
                else:
                    self._json(200, server.completion(body, server.answer_for(body)))

            def _embeddings(self, body: dict, fault: str | None) -> None:
                if fault in STATUS_FAULTS:
                    self._status_fault(fault, stream=False)
                    return
                if fault == "timeout":
                    self._hang()
                    return
                if fault == "malformed":
                    self._malformed(stream=False)
                    return
                texts = body.get("input")
                texts = [texts] if isinstance(texts, str) else list(texts or [])
                if server.dialect == "zhipu" and len(texts) > ZHIPU_BATCH_LIMIT:
                    self._json(400, {"error": {"code": "1214", "message": f"input 数组最大不得超过 {ZHIPU_BATCH_LIMIT} 条"}})
                    return
                model = body.get("model", "")
                dimension = server.embedding_dimension or int(body.get("dimensions")
                                                              or DEFAULT_EMBEDDING_DIMENSIONS.get(model, 8))
                data = [{"object": "embedding", "index": i, "embedding": fake_vector(text, dimension)}
                        for i, text in enumerate(texts)]
                self._json(200, {"object": "list", "data": data, "model": model,
                                 "usage": {"prompt_tokens": len(texts), "completion_tokens": 0,
                                           "total_tokens": len(texts)}})

            def _status_fault(self, fault: str, stream: bool) -> None:
                status, payload = server.error_response(fault)
                if status is not None:
                    self._json(status, payload)
                elif stream:
                    self._event_stream_start()
                    self._event(payload)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self._json(200, payload)

            def _hang(self) -> None:
                server._released.wait(server.hang_seconds)
                self.close_connection = True

            def _malformed(self, stream: bool) -> None:
                if stream:
                    self._event_stream_start()
                    self.wfile.write(b"data: {not json\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self._raw(200, "application/json", b"{not json")

            def _not_found(self) -> None:
                status, payload = server.error_response("404")
                self._json(404, payload)

            def _stream(self, body: dict, text: str, cut: bool) -> None:
                self._event_stream_start()
                pieces = [text[i:i + server.chunk_chars] for i in range(0, len(text), server.chunk_chars)]
                if cut:
                    pieces = pieces[: max(1, len(pieces) // 2)]
                for piece in pieces:
                    self._event(server.chunk(body, piece, None))
                    time.sleep(server.delay)
                if cut:
                    self.wfile.write(b"data: {\"choices\": [")  # the connection drops mid-event
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._event(server.chunk(body, None, "stop", final=True))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _event_stream_start(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()

            def _event(self, payload: dict) -> None:
                self.wfile.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n")
                self.wfile.flush()

            def _json(self, status: int, payload: dict) -> None:
                self._raw(status, "application/json", json.dumps(payload, ensure_ascii=False).encode("utf-8"))

            def _raw(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def fake_vector(text: str, dimension: int) -> list[float]:
    """Return a deterministic unit vector for `text` (from sha256, stable across processes)."""
    seed = hashlib.sha256(text.encode("utf-8")).digest()
    values = [((seed[i % len(seed)] + i * 31) % 255) / 255.0 - 0.5 for i in range(dimension)]
    norm = sum(value * value for value in values) ** 0.5 or 1.0
    return [value / norm for value in values]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="fake LLM vendor server for manual tries")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dialect", choices=sorted(PREFIXES), default="openai")
    parser.add_argument("--fault", help="fault to inject in every chat request, e.g. 401, 429, 500, malformed, cut")
    args = parser.parse_args()
    fake = FakeVendorServer(dialect=args.dialect)
    fake.fault = args.fault
    fake._server.server_close()
    fake._server = ThreadingHTTPServer(("127.0.0.1", args.port), fake._handler_class())
    print(fake.base_url, flush=True)
    fake._server.serve_forever()
