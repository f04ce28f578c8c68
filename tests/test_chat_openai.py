"""The OpenAI-compatible chat model against a real local server (real `openai` client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from assistant.chat.base import ChatMessage, Finish, TextDelta
from assistant.chat.openai_chat import OpenAIChatModel
from assistant.errors import ModelError
from tests.openai_server import OpenAIServer, Reply, free_port

KEY = "sk-test-SECRET-0123456789abcdef"
MESSAGES = [
    ChatMessage(role="system", content="You are terse."),
    ChatMessage(role="user", content="Say hello."),
]


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def make(
    server: OpenAIServer | None,
    *,
    name: str = "test-model",
    timeout: float = 5.0,
    max_retries: int = 2,
    base_url: str | None = None,
) -> OpenAIChatModel:
    return OpenAIChatModel(
        name,
        api_key=KEY,
        base_url=base_url or (server.base_url if server else None),
        context_window=8192,
        timeout=timeout,
        max_retries=max_retries,
    )


def run(model: OpenAIChatModel, cancel: threading.Event | None = None) -> tuple[str, Finish]:
    parts: list[str] = []
    finish: Finish | None = None
    for event in model.stream(MESSAGES, max_tokens=50, cancel=cancel):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        else:
            assert finish is None, "exactly one Finish"
            finish = event
    assert finish is not None
    return "".join(parts), finish


def failure(model: OpenAIChatModel) -> ModelError:
    with pytest.raises(ModelError) as info:
        run(model)
    error = info.value
    assert KEY not in error.message and KEY not in (error.hint or "")
    assert "\n" not in error.message
    return error


def test_streams_text_and_usage(server: OpenAIServer) -> None:
    usage = {"prompt_tokens": 17, "completion_tokens": 3, "total_tokens": 20}
    server.script(Reply.stream(["Hello", ",", " world."], usage=usage))
    text, finish = run(make(server))
    assert text == "Hello, world."
    assert finish.finish_reason == "stop" and not finish.incomplete
    assert (finish.usage.prompt_tokens, finish.usage.completion_tokens) == (17, 3)
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["model"] == "test-model"
    assert request.body["max_tokens"] == 50
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]


def test_invalid_key_401(server: OpenAIServer) -> None:
    server.script(Reply.error(401, f"Incorrect API key provided: {KEY}.", code="invalid_api_key"))
    error = failure(make(server))
    assert error.kind == "auth"
    assert "401" in error.message and "OPENAI_API_KEY" in (error.hint or "")
    assert len(server.requests) == 1  # not retried


def test_unknown_model_404(server: OpenAIServer) -> None:
    server.script(Reply.error(404, "The model `nope` does not exist", code="model_not_found"))
    error = failure(make(server, name="nope"))
    assert error.kind == "not_found"
    assert "'nope'" in error.message and "404" in error.message


def test_rate_limited_then_success_is_retried(server: OpenAIServer) -> None:
    server.script(Reply.error(429, "Rate limit reached", retry_after_ms=20), Reply.stream(["ok"]))
    text, finish = run(make(server, max_retries=2))
    assert text == "ok" and not finish.incomplete
    assert len(server.requests) == 2  # the retry reached the server
    assert server.requests[1].headers.get("x-stainless-retry-count") == "1"


def test_rate_limited_after_retries(server: OpenAIServer) -> None:
    server.script(*[Reply.error(429, "Rate limit reached", retry_after_ms=10)] * 2)
    error = failure(make(server, max_retries=1))
    assert error.kind == "rate_limit"
    assert "429" in error.message and "1 retries" in error.message
    assert len(server.requests) == 2


def test_server_error_500(server: OpenAIServer) -> None:
    server.script(*[Reply.error(500, "boom", type_="server_error", retry_after_ms=10)] * 2)
    error = failure(make(server, max_retries=1))
    assert error.kind == "server" and "500" in error.message
    assert len(server.requests) == 2


def test_context_too_long(server: OpenAIServer) -> None:
    server.script(
        Reply.error(
            400,
            "This model's maximum context length is 8192 tokens.",
            code="context_length_exceeded",
        )
    )
    error = failure(make(server))
    assert error.kind == "context_length"
    assert "RA_CONTEXT_WINDOW" in (error.hint or "")


def test_stream_cut_keeps_partial_text(server: OpenAIServer) -> None:
    server.script(Reply.stream(["Alpha", " beta", " gamma", " delta"], cut_after=2))
    text, finish = run(make(server))
    assert text == "Alpha beta"
    assert finish.incomplete and finish.finish_reason == "error"
    assert finish.error is not None and "stream cut" in finish.error
    assert finish.usage.completion_tokens > 0  # counted locally when the server sent none


def test_slow_server_times_out(server: OpenAIServer) -> None:
    server.script(Reply.stream(["late"], delay_before=3.0))
    started = time.monotonic()
    error = failure(make(server, timeout=0.5, max_retries=0))
    assert error.kind == "timeout" and "0.5s" in error.message
    assert time.monotonic() - started < 2.5


def test_unreachable_server() -> None:
    model = make(None, base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    error = failure(model)
    assert error.kind == "unreachable"
    assert "127.0.0.1" in error.message


def test_cancel_stops_the_stream(server: OpenAIServer) -> None:
    server.script(Reply.stream([f" w{i}" for i in range(40)], delay_between=0.02))
    cancel = threading.Event()
    parts: list[str] = []
    finish: Finish | None = None
    for event in make(server).stream(MESSAGES, max_tokens=50, cancel=cancel):
        if isinstance(event, TextDelta):
            parts.append(event.text)
            if len(parts) == 3:
                cancel.set()
        else:
            finish = event
    assert finish is not None and finish.finish_reason == "cancelled" and finish.incomplete
    assert len(parts) == 3


def test_falls_back_to_max_completion_tokens(server: OpenAIServer) -> None:
    server.script(
        Reply.error(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            code="unsupported_parameter",
        ),
        Reply.stream(["fine"]),
    )
    text, _ = run(make(server))
    assert text == "fine"
    assert "max_completion_tokens" in server.requests[1].body
    assert "max_tokens" not in server.requests[1].body


def test_needs_an_endpoint() -> None:
    with pytest.raises(ModelError) as info:
        OpenAIChatModel("gpt-4o", api_key=None, base_url=None, context_window=8192)
    assert info.value.kind == "config" and "offline" in (info.value.hint or "")


def test_local_server_without_key(server: OpenAIServer) -> None:
    model = OpenAIChatModel(
        "llama3", api_key=None, base_url=server.base_url, context_window=8192, max_retries=0
    )
    text, _ = run(model)
    assert text == "Hello from the test server."
    assert repr(model).startswith("OpenAIChatModel(") and "SECRET" not in repr(model)
