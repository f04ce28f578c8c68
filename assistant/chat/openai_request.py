"""The HTTP side of the OpenAI-compatible model: sending a request with our own retries.

- retries with backoff on timeouts, lost connections, 408/409/429/5xx (the SDK's are off),
  each announced as a `StatusEvent` ("waiting for the model at ..., retry 2 of 3"), all
  within a total time bound;
- optional parameters a server refuses (`temperature`, `stream_options`, `max_tokens` ->
  `max_completion_tokens`) are dropped and the request sent again, remembered per
  (server, model) for the life of the process;
- a server that ignores `stream` and answers with one JSON body is told apart from a stream;
- `CloseOnCancel` shuts a stream's socket the moment `cancel` is set.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

from assistant.chat.base import StatusEvent
from assistant.chat.openai_errors import (
    Where,
    error_text,
    is_retryable,
    malformed_stream,
    map_error,
    retry_after,
    why_retry,
)

BACKOFF_START = 0.5  # seconds; doubles per retry
BACKOFF_MAX = 8.0
# Optional request parameters a server refused, per (endpoint, model): "temperature",
# "stream_options", "max_tokens" (meaning: send max_completion_tokens instead).
_REJECTED: dict[tuple[str, str], set[str]] = {}
_REJECTED_LOCK = threading.Lock()


@dataclass(frozen=True)
class Opened:
    """An opened request: an SSE stream (`stream`) or a whole JSON reply (`body`)."""

    stream: Any = None
    body: Any = None


def open_request(
    client: Any,
    payload: list[dict[str, Any]],
    max_tokens: int,
    where: Where,
    cancel: threading.Event | None,
) -> Generator[StatusEvent, None, Opened | None]:
    """Send the chat request, retrying within `where.total_timeout`; None if cancelled."""
    import openai

    deadline = time.monotonic() + where.total_timeout
    retry = 0
    reached = False
    while True:
        remaining = deadline - time.monotonic()
        timeout = openai.Timeout(
            max(0.1, min(where.read_timeout, remaining)),
            connect=max(0.1, min(where.connect_timeout, remaining)),
        )
        request = request_body(where, payload, max_tokens)
        try:
            raw = client.chat.completions.with_raw_response.create(
                **request,
                timeout=timeout,
                extra_headers={"x-stainless-retry-count": str(retry)},
            )
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if drop_rejected(where, exc, request):
                continue
            raise map_error(exc, where) from None
        except openai.APIError as exc:
            reached = reached or server_answered(exc)
            wait = backoff(exc, retry)
            if (
                not is_retryable(exc)
                or retry >= where.retries
                or time.monotonic() + wait >= deadline
            ):
                raise map_error(exc, replace(where, retries=retry), reached=reached) from None
            retry += 1
            yield StatusEvent(
                f"waiting for the model at {where.endpoint}: {why_retry(exc, where)};"
                f" retry {retry} of {where.retries}"
            )
            if cancel is not None:
                if cancel.wait(wait):
                    return None
            else:
                time.sleep(wait)
            continue
        content_type = raw.headers.get("content-type", "")
        if "json" in content_type and "event-stream" not in content_type:
            try:
                return Opened(body=json.loads(raw.http_response.read()))
            except ValueError as exc:
                raise malformed_stream(where, exc) from None
        return Opened(stream=raw.parse())


def request_body(where: Where, payload: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    """The request, less the optional parameters this server refused before."""
    with _REJECTED_LOCK:
        rejected = set(_REJECTED.get((where.endpoint, where.model), ()))
    limit = "max_completion_tokens" if "max_tokens" in rejected else "max_tokens"
    request: dict[str, Any] = {
        "model": where.model,
        "messages": payload,
        "stream": True,
        limit: max_tokens,
    }
    if "stream_options" not in rejected:
        request["stream_options"] = {"include_usage": True}
    if "temperature" not in rejected:
        request["temperature"] = 0
    return request


def drop_rejected(where: Where, exc: Exception, request: dict[str, Any]) -> bool:
    """Remember an optional parameter the server refused; True to send again without it."""
    text = error_text(exc)
    if "max_tokens" in request and "max_completion_tokens" in text:
        dropped = "max_tokens"
    elif "temperature" in request and "temperature" in text:
        dropped = "temperature"
    elif "stream_options" in request and ("stream_options" in text or "include_usage" in text):
        dropped = "stream_options"
    else:
        return False
    with _REJECTED_LOCK:
        _REJECTED.setdefault((where.endpoint, where.model), set()).add(dropped)
    return True


def backoff(exc: Exception, retry: int) -> float:
    """Seconds before the next attempt: what the server asked (up to 60 s), else doubling."""
    asked = retry_after(exc)
    if asked is not None and asked <= 60:
        return asked
    return min(BACKOFF_START * 2**retry, BACKOFF_MAX)


def server_answered(exc: Exception) -> bool:
    """True when the failure shows the server was there (an HTTP status, or it hung up)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return True
    cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else ""
    return cause in ("RemoteProtocolError", "ReadError", "ReadTimeout")


class CloseOnCancel:
    """While active, a watcher shuts the stream's socket as soon as `cancel` is set.

    Closing the response alone does not wake a read blocked in another thread; shutting
    the socket down does, so a cancel takes effect at once, not at the next chunk.
    """

    POLL = 0.05  # seconds

    def __init__(self, sdk_stream: Any, cancel: threading.Event | None) -> None:
        self._stream = sdk_stream
        self._cancel = cancel
        self._done = threading.Event()

    def __enter__(self) -> CloseOnCancel:
        if self._cancel is not None:
            threading.Thread(target=self._watch, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._stream.close()

    def _watch(self) -> None:
        assert self._cancel is not None
        while not self._done.is_set():
            if self._cancel.wait(self.POLL):
                if not self._done.is_set():
                    shutdown(self._stream)
                return


def shutdown(sdk_stream: Any) -> None:
    """Shut the stream's socket down (waking a blocked read)."""
    response = getattr(sdk_stream, "response", None)
    extensions = getattr(response, "extensions", None) or {}
    network = extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
