"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for the tests.

It speaks real HTTP on a real socket, so the product's ``openai`` client cannot tell it from a
real endpoint. ``script`` queues misbehaviours for the next requests (429, 500, malformed JSON,
a slow answer); otherwise ``answer(body)`` writes the reply text.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], str]


def prompt_of(body: dict[str, Any]) -> str:
    return "\n".join(m.get("content", "") for m in body.get("messages", []))


class StubLM:
    def __init__(self, answer: Answer | None = None, *, slow_seconds: float = 2.0) -> None:
        self.answer: Answer = answer or (lambda body: "```python\npass\n```")
        self.script: list[str] = []  # "429", "500", "503", "malformed", "slow", "ok"
        self.requests: list[dict[str, Any]] = []
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StubLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: dict[str, Any]) -> str:
        with self._lock:
            self.requests.append(body)
            return self.script.pop(0) if self.script else "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": "not found"}})
                what = stub._next(body)
                if what == "429":
                    return self._send(429, {"error": {"message": "rate limited",
                                                      "type": "rate_limit_error"}},
                                      {"retry-after": "0"})
                if what in ("500", "503"):
                    return self._send(int(what), {"error": {"message": "server error"}})
                if what == "malformed":
                    return self._raw(200, b'{"id": "x", "choices": [ {"message": ')
                if what == "slow":
                    time.sleep(stub.slow_seconds)
                text = stub.answer(body)
                prompt = prompt_of(body)
                return self._send(200, {
                    "id": f"chatcmpl-{len(stub.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "stub"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": len(prompt) // 4,
                              "completion_tokens": len(text) // 4,
                              "total_tokens": len(prompt) // 4 + len(text) // 4},
                })

            def _send(self, code: int, payload: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                self._raw(code, json.dumps(payload).encode(), headers)

            def _raw(self, code: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        return Handler
