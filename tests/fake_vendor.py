"""A fake OpenAI-compatible vendor server on 127.0.0.1 for tests, with fault injection.

It speaks the chat-completions wire format (JSON and SSE streaming) and `/v1/models`, records
every request it receives, and can be told to fail in a given way. Run it standalone for manual
tries: `python tests/fake_vendor.py --port 8765`.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_STATUS = {"401": 401, "403": 403, "404": 404, "429": 429, "500": 500, "503": 503}


class FakeVendorServer:
    """Start with `start()`, stop with `stop()`; `base_url` ends in `/v1`.

    `fault` is one of None, '401', '403', '404', '429', '500', '503', 'malformed', 'cut', 'timeout'.
    `reply` overrides the answer text; by default it quotes the start of source [1] of the system prompt.
    """

    def __init__(self, chunk_chars: int = 6, delay: float = 0.01) -> None:
        self.requests: list[dict] = []
        self.fault: str | None = None
        self.reply: str | None = None
        self.chunk_chars = chunk_chars
        self.delay = delay
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeVendorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer_for(self, body: dict) -> str:
        """Return the reply text for a chat request."""
        if self.reply is not None:
            return self.reply
        system = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system"), "")
        match = re.search(r"^\[1\][^\n]*\n(.+)$", str(system), flags=re.MULTILINE)
        quoted = match.group(1).strip()[:40] if match else "没有资料"
        return f"【测试模型】根据资料 [1]：{quoted}"

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append({"method": "GET", "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": None})
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"method": "POST", "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                self._chat(body)

            def _chat(self, body: dict) -> None:
                fault = server.fault
                if fault in FAULT_STATUS:
                    status = FAULT_STATUS[fault]
                    self._json(status, {"error": {"message": f"fault {fault}", "type": "fake", "code": str(status)}})
                    return
                if fault == "timeout":
                    time.sleep(30)
                    return
                if fault == "malformed":
                    self._raw(200, "application/json", b"{not json")
                    return
                text = server.answer_for(body)
                if body.get("stream"):
                    self._stream(body, text, cut=fault == "cut")
                else:
                    self._json(200, _completion(body, text))

            def _stream(self, body: dict, text: str, cut: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = [text[i:i + server.chunk_chars] for i in range(0, len(text), server.chunk_chars)]
                if cut:
                    pieces = pieces[: max(1, len(pieces) // 2)]
                for piece in pieces:
                    self._event(_chunk(body, {"content": piece}, None))
                    time.sleep(server.delay)
                if cut:
                    self.wfile.write(b"data: {\"choices\": [")  # the connection drops mid-event
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._event(_chunk(body, {}, "stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

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


def _completion(body: dict, text: str) -> dict:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(text), "total_tokens": 10 + len(text)},
    }


def _chunk(body: dict, delta: dict, finish_reason: str | None) -> dict:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="fake OpenAI-compatible server for manual tries")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeVendorServer()
    fake._server.server_close()
    fake._server = ThreadingHTTPServer(("127.0.0.1", args.port), fake._handler_class())
    print(fake.base_url, flush=True)
    fake._server.serve_forever()
