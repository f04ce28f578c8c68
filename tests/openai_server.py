"""A real local HTTP server speaking the OpenAI chat-completions API, scripted per test.

`ThreadingHTTPServer` on 127.0.0.1 (free port), HTTP/1.1 with chunked SSE streaming and
a usage chunk, like the real API. Each request takes the next scripted `Reply`; when the
script is empty, `default` answers (a fixed text, or a function of the request).

It can misbehave like real servers do (see `Reply` fields and the server attributes):
a junk SSE line, a plain JSON reply to a streamed request, a hang, echoing the API key,
rejecting `temperature` / `stream_options` (`rejects`), an empty stream or `[DONE]`
without a finish reason (llama.cpp on a context overflow), a cut connection, holding a
chunk back until released, and llama.cpp's `GET /props`, vLLM's `GET /v1/models`,
Ollama's `POST /api/show` (`props`, `models`, `ollama_show`).

    with OpenAIServer() as server:
        server.script(Reply.error(429, retry_after_ms=10), Reply.stream(["Hi", "!"]))
        ... OpenAI(base_url=server.base_url, api_key="sk-test") ...
        assert len(server.requests) == 2
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    chunks: list[str] = field(default_factory=list)
    usage: dict[str, int] | None = None
    finish_reason: str = "stop"
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_before: float = 0.0  # seconds before any byte is sent
    delay_between: float = 0.0  # seconds between chunks
    cut_after: int | None = None  # drop the connection after this many content chunks
    junk_after: int | None = None  # send a junk SSE line after this many content chunks
    junk: str = "data: {this is not json"
    plain_json: bool = False  # ignore `stream` and answer with one JSON completion
    no_finish: bool = False  # end with [DONE] but never send a finish_reason
    echo_key: bool = False  # put the request's bearer key into the answer, split in two
    hold_after: int | None = None  # after this many chunks, wait for `server.release`
    no_usage: bool = False  # never send a usage chunk

    @classmethod
    def stream(cls, chunks: list[str], **kw: Any) -> Reply:
        return cls(chunks=list(chunks), **kw)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "error",
        *,
        code: str | None = None,
        type_: str = "invalid_request_error",
        retry_after_ms: int | None = None,
    ) -> Reply:
        headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms is not None else {}
        body = {"error": {"message": message, "type": type_, "code": code, "param": None}}
        return cls(status=status, error_body=body, headers=headers)


@dataclass
class Seen:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def words_of(text: str) -> list[str]:
    """Split text into word-sized chunks (leading spaces kept) for streaming."""
    out: list[str] = []
    for i, word in enumerate(text.split(" ")):
        out.append(word if i == 0 else " " + word)
    return out


class OpenAIServer:
    """The scripted server; use as a context manager or call start()/stop()."""

    def __init__(self, default: str | Responder = "Hello from the test server.") -> None:
        self.default = default
        self.requests: list[Seen] = []  # chat API calls
        self.probes: list[Seen] = []  # GET /props, GET /v1/models, POST /api/show
        self.models: list[str] = ["test-model"]
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Optional parameters answered with a 400 naming them ("temperature", ...).
        self.rejects: set[str] = set()
        self.props: dict[str, Any] | None = None  # llama.cpp GET /props
        self.model_lens: dict[str, int] = {}  # vLLM's max_model_len per model in /v1/models
        self.ollama_show: dict[str, Any] | None = None  # Ollama POST /api/show
        self.release = threading.Event()  # lets a `hold_after` reply go on
        self.held = threading.Event()  # set when a reply starts holding

    # ----- control -----

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- used by the handler -----

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        text = self.default(body) if callable(self.default) else self.default
        return Reply.stream(words_of(text))


class _QuietServer(ThreadingHTTPServer):
    """Clients dropping kept-alive connections is normal here: no tracebacks for it."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: OpenAIServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        # `GET /v1/models` (the TUI's /model list, vLLM's max_model_len), llama.cpp's /props.
        owner = self.owner
        owner.probes.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, {}))
        path = self.path.rstrip("/")
        if path == "/props" and owner.props is not None:
            self._json(200, owner.props)
            return
        if not path.endswith("/models"):
            self._json(404, {"error": {"message": f"no route {self.path}", "code": None}})
            return
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "test"}
            | ({"max_model_len": owner.model_lens[m]} if m in owner.model_lens else {})
            for m in owner.models
        ]
        self._json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        body = json.loads(raw or b"{}")
        seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        if self.path.rstrip("/") == "/api/show":
            self.owner.probes.append(seen)
            if self.owner.ollama_show is not None:
                self._json(200, self.owner.ollama_show)
            else:
                self._json(404, {"error": "not found"})
            return
        self.owner.requests.append(seen)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "code": None}})
            return
        for param in sorted(self.owner.rejects):
            if param in body:
                message = REJECT_MESSAGES.get(param, f"Unrecognized request argument: {param}")
                error = {"message": message, "type": "invalid_request_error", "param": param}
                self._json(400, {"error": {**error, "code": "unsupported_parameter"}})
                return
        reply = self.owner._next(body)
        if reply.echo_key:
            key = self.headers.get("authorization", "").removeprefix("Bearer ")
            half = len(key) // 2
            reply.chunks = ["The key is ", key[:half], key[half:], " (echoed)."]
        if reply.delay_before:
            time.sleep(reply.delay_before)
        if reply.error_body is not None:
            self._json(reply.status, reply.error_body, reply.headers)
            return
        if body.get("stream") and not reply.plain_json:
            self._stream(reply, body)
        else:
            self._complete(reply, body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _complete(self, reply: Reply, body: dict[str, Any]) -> None:
        text = "".join(reply.chunks)
        self._json(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "test"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": reply.usage or _usage(body, text),
            },
        )

    def _send_chunk(self, payload: str) -> None:
        data = f"data: {payload}\n\n".encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        model = body.get("model", "test")

        def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
            return json.dumps(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": choices,
                    "usage": usage,
                }
            )

        try:
            for i, text in enumerate(reply.chunks):
                if reply.cut_after is not None and i >= reply.cut_after:
                    # Drop the connection mid-body: no terminating chunk, no [DONE].
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if reply.junk_after is not None and i == reply.junk_after:
                    data = f"{reply.junk}\n\n".encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                if reply.hold_after is not None and i == reply.hold_after:
                    self.owner.held.set()
                    self.owner.release.wait(60)
                delta = {"content": text} if i else {"role": "assistant", "content": text}
                self._send_chunk(chunk([{"index": 0, "delta": delta, "finish_reason": None}]))
                if reply.delay_between:
                    time.sleep(reply.delay_between)
            if not reply.no_finish:
                self._send_chunk(
                    chunk([{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}])
                )
            include = (body.get("stream_options") or {}).get("include_usage")
            if include and not reply.no_usage:
                usage = reply.usage or _usage(body, "".join(reply.chunks))
                self._send_chunk(chunk([], usage))
            self._send_chunk("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


# What real servers say when they refuse an optional parameter.
REJECT_MESSAGES = {
    "temperature": "Unsupported value: 'temperature' does not support 0 with this model."
    " Only the default (1) value is supported.",
    "stream_options": "Unrecognized request argument supplied: stream_options",
}


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(text.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def free_port() -> int:
    """A loopback port with nothing listening (for "unreachable server" tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
