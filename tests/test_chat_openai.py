"""The OpenAI-compatible chat model against a real local server (real `openai` client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from assistant.chat.base import ChatMessage, Finish, StatusEvent, TextDelta
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


def run(
    model: OpenAIChatModel,
    cancel: threading.Event | None = None,
    statuses: list[str] | None = None,
) -> tuple[str, Finish]:
    parts: list[str] = []
    finish: Finish | None = None
    for event in model.stream(MESSAGES, max_tokens=50, cancel=cancel):
        assert finish is None, "nothing after the Finish"
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, StatusEvent):
            if statuses is not None:
                statuses.append(event.message)
        else:
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
    statuses: list[str] = []
    text, finish = run(make(server, max_retries=2), statuses=statuses)
    assert text == "ok" and not finish.incomplete
    assert len(server.requests) == 2  # the retry reached the server
    assert server.requests[1].headers.get("x-stainless-retry-count") == "1"
    # The retry was visible while it happened.
    assert statuses == [
        f"waiting for the model at {server.base_url}: rate limited (429); retry 1 of 2"
    ]


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


# ----- misbehaving servers (issue 11, items 8 and 11) -----


def test_junk_sse_line_is_one_line_error_naming_the_server(server: OpenAIServer) -> None:
    server.script(Reply.stream(["never", " shown"], junk_after=0))
    error = failure(make(server))
    assert error.kind == "protocol"
    assert server.base_url in error.message and "malformed stream line" in error.message
    assert "{this is not json" in error.message


def test_junk_sse_line_after_text_keeps_the_text(server: OpenAIServer) -> None:
    server.script(Reply.stream(["Alpha", " beta", " gamma"], junk_after=2))
    text, finish = run(make(server))
    assert text == "Alpha beta"
    assert finish.incomplete and finish.error is not None
    assert "malformed stream line" in finish.error and server.base_url in finish.error


def test_plain_json_reply_to_a_streamed_request_is_accepted(server: OpenAIServer) -> None:
    usage = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    server.script(Reply.stream(["A whole", " answer."], plain_json=True, usage=usage))
    text, finish = run(make(server))
    assert text == "A whole answer."
    assert finish.finish_reason == "stop" and not finish.incomplete
    assert (finish.usage.prompt_tokens, finish.usage.completion_tokens) == (11, 4)
    assert not finish.usage.estimated
    assert server.requests[0].body["stream"] is True  # we asked for a stream


def test_hung_server_is_bounded_in_total_and_shows_each_retry(server: OpenAIServer) -> None:
    server.script(*[Reply.stream(["late"], delay_before=5.0)] * 6)
    model = OpenAIChatModel(
        "test-model",
        api_key=KEY,
        base_url=server.base_url,
        timeout=0.4,
        connect_timeout=0.4,
        total_timeout=1.5,
        max_retries=5,
    )
    statuses: list[str] = []
    with pytest.raises(ModelError) as info:
        run(model, statuses=statuses)
    error = info.value
    assert error.kind == "timeout"
    assert "sent nothing for 0.4s" in error.message and "total 1.5s" in error.message
    assert "RA_TOTAL_TIMEOUT" in (error.hint or "")
    # The total bound stopped the retries before max_retries was used up.
    assert 1 <= len(statuses) < 5
    assert statuses[0] == (
        f"waiting for the model at {server.base_url}: no answer for 0.4s; retry 1 of 5"
    )
    assert len(server.requests) == len(statuses) + 1


def test_rejected_temperature_is_dropped_and_remembered(server: OpenAIServer) -> None:
    server.rejects = {"temperature"}
    model = make(server, name="o3-mini-temp")
    text, _ = run(model)
    assert text == "Hello from the test server."
    assert [("temperature" in r.body) for r in server.requests] == [True, False]
    # A second turn, even through a new model object, goes straight without it.
    text, _ = run(make(server, name="o3-mini-temp"))
    assert text and len(server.requests) == 3 and "temperature" not in server.requests[2].body


def test_rejected_stream_options_is_dropped_and_usage_estimated(server: OpenAIServer) -> None:
    server.rejects = {"stream_options"}
    text, finish = run(make(server, name="old-server-model"))
    assert text == "Hello from the test server."
    assert "stream_options" in server.requests[0].body
    assert "stream_options" not in server.requests[1].body
    assert finish.usage.estimated and finish.usage.completion_tokens > 0


def test_server_usage_is_not_marked_estimated(server: OpenAIServer) -> None:
    _, finish = run(make(server))
    assert not finish.usage.estimated


def test_empty_stream_without_finish_reason_is_a_probable_overflow(server: OpenAIServer) -> None:
    # llama.cpp answers a prompt longer than its --n_ctx with HTTP 200 and an empty stream.
    server.script(Reply.stream([], no_finish=True))
    error = failure(make(server))
    assert error.kind == "context_length"
    assert "no text and no finish reason" in error.message and server.base_url in error.message
    assert "RA_CONTEXT_WINDOW" in (error.hint or "")
    assert "RA_MAX_ANSWER_TOKENS" in (error.hint or "")


def test_done_without_finish_reason_after_text_is_incomplete(server: OpenAIServer) -> None:
    server.script(Reply.stream(["Half", " an"], no_finish=True))
    text, finish = run(make(server))
    assert text == "Half an"
    assert finish.incomplete and finish.error is not None
    assert "without a finish reason" in finish.error


def test_connection_lost_before_any_text_is_worded_as_lost(server: OpenAIServer) -> None:
    server.script(Reply.stream(["gone"], cut_after=0))
    error = failure(make(server))
    assert error.kind == "connection_lost"
    assert "was lost mid-answer" in error.message and "cannot reach" not in error.message


def test_connection_lost_after_text_keeps_it(server: OpenAIServer) -> None:
    server.script(Reply.stream(["Alpha", " beta", " gamma"], cut_after=2))
    text, finish = run(make(server))
    assert text == "Alpha beta"
    assert finish.error is not None and "was lost mid-answer" in finish.error


def test_cancel_closes_the_response_at_once(server: OpenAIServer) -> None:
    # The server sends one chunk, then holds the next until released (never, here): a
    # cancel that waited for the next chunk would hang; the join below would time out.
    server.script(Reply.stream(["first", " second", " third"], hold_after=1))
    cancel = threading.Event()
    events: list[object] = []
    first = threading.Event()

    def consume() -> None:
        for event in make(server).stream(MESSAGES, max_tokens=50, cancel=cancel):
            events.append(event)
            first.set()

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    assert server.held.wait(10) and first.wait(10)
    cancel.set()
    worker.join(20)
    hung = worker.is_alive()
    server.release.set()
    assert not hung, "cancel waited for the server's next chunk"
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["first"]
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.finish_reason == "cancelled"


@pytest.mark.parametrize(
    ("setup", "window", "source"),
    [
        (
            lambda s: setattr(s, "props", {"default_generation_settings": {"n_ctx": 2048}}),
            2048,
            "llama.cpp /props",
        ),
        (
            lambda s: s.model_lens.update({"test-model": 12288}),
            12288,
            "max_model_len",
        ),
        (
            lambda s: setattr(s, "ollama_show", {"model_info": {"llama.context_length": 131072}}),
            131072,
            "Ollama",
        ),
        (lambda s: None, 4096, "default for an unknown model"),
    ],
)
def test_context_window_is_learned_from_the_server(
    server: OpenAIServer, setup: Any, window: int, source: str
) -> None:
    setup(server)
    model = OpenAIChatModel("test-model", api_key=None, base_url=server.base_url, max_retries=0)
    assert model.context_window == window
    assert source in model.context_window_source


def test_setting_wins_over_the_server(server: OpenAIServer) -> None:
    server.props = {"default_generation_settings": {"n_ctx": 2048}}
    model = OpenAIChatModel("llama3.1", api_key=None, base_url=server.base_url, context_window=1000)
    assert (model.context_window, model.context_window_source) == (1000, "RA_CONTEXT_WINDOW")
    assert not server.probes
