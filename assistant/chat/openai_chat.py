"""Chat model for any OpenAI-compatible endpoint, through the `openai` SDK (imported lazily).

Robust against real servers (the sending side is in `openai_request`):
- timeouts: connect (RA_CONNECT_TIMEOUT), silence (RA_TIMEOUT: before the first byte or
  between chunks), and a total bound on waiting for the answer to start, retries included
  (RA_TOTAL_TIMEOUT); each retry is shown as a `StatusEvent`;
- a server that ignores `stream` and answers with one JSON completion is accepted;
- a malformed stream line, a lost connection, an empty stream with no finish reason
  (llama.cpp's answer to a context overflow) are one-line `ModelError`s naming the server;
- `cancel` shuts the socket at once, not at the next chunk;
- the context window is asked from the server when it says (`server_info`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant.answer import Usage
from assistant.budget import DEFAULT_CONTEXT_WINDOW, table_context_window
from assistant.chat.base import ChatMessage, Finish, ModelRequest, StreamEvent, TextDelta
from assistant.chat.openai_errors import (
    Where,
    connection_lost,
    malformed_stream,
    map_error,
    overflow_error,
)
from assistant.chat.openai_request import CloseOnCancel, open_request
from assistant.chat.server_info import probe_context_window
from assistant.errors import ModelError
from retrieval.tokens import count_tokens

if TYPE_CHECKING:
    import openai

# Placeholder for local servers (Ollama, vLLM, llama.cpp) that need no key.
NO_KEY = "not-needed"
OPENAI_URL = "https://api.openai.com/v1"


class OpenAIChatModel:
    """An OpenAI-compatible chat model; `name` is the model id sent to the server.

    `context_window`: the given value (RA_CONTEXT_WINDOW) if any, else what the server
    reports (asked once, on first use), else the known-models table, else 4096;
    `context_window_source` says which.
    """

    def __init__(
        self,
        name: str,
        *,
        api_key: str | None,
        base_url: str | None,
        context_window: int | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        total_timeout: float = 120.0,
        max_retries: int = 3,
        context_window_source: str = "RA_CONTEXT_WINDOW",
    ) -> None:
        if not api_key and not base_url:
            raise ModelError(
                "config",
                f"model {name!r} needs an OpenAI-compatible endpoint, and none is configured",
                "set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server),"
                " or use --model offline",
            )
        self.name = name
        self._api_key = api_key or NO_KEY
        self._base_url = base_url
        self._timeout = timeout
        self._connect_timeout = min(connect_timeout, timeout)
        self._total_timeout = max(total_timeout, self._connect_timeout)
        self._max_retries = max(0, max_retries)
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()
        self._window: int | None = context_window or None
        self._window_source = context_window_source if context_window else ""

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIChatModel(name={self.name!r}, base_url={self.endpoint!r})"

    # ------------------------------------------------------------ what users see

    @property
    def endpoint(self) -> str:
        """The server as shown to users: scheme://host[:port][/path], never credentials."""
        if not self._base_url:
            return OPENAI_URL
        parts = urlsplit(self._base_url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/")

    @property
    def context_window(self) -> int:
        """The context window in tokens (see the class doc for where it comes from)."""
        with self._lock:
            if self._window is None:
                self._window, self._window_source = self._learn_window()
            return self._window

    @context_window.setter
    def context_window(self, tokens: int) -> None:
        with self._lock:
            self._window, self._window_source = tokens, "set by the caller"

    @property
    def context_window_source(self) -> str:
        """Where `context_window` came from: the setting, the server, the table or default."""
        _ = self.context_window
        return self._window_source

    def _learn_window(self) -> tuple[int, str]:
        if self._base_url and urlsplit(self._base_url).hostname != "api.openai.com":
            key = self._api_key if self._api_key != NO_KEY else None
            found = probe_context_window(self._base_url, self.name, key)
            if found is not None:
                return found
        known = table_context_window(self.name)
        if known:
            return known, "known-models table"
        return DEFAULT_CONTEXT_WINDOW, "default for an unknown model (set RA_CONTEXT_WINDOW)"

    def _where(self) -> Where:
        secrets = (self._api_key,) if self._api_key != NO_KEY else ()
        return Where(
            endpoint=self.endpoint,
            model=self.name,
            secrets=secrets,
            read_timeout=self._timeout,
            connect_timeout=self._connect_timeout,
            total_timeout=self._total_timeout,
            retries=self._max_retries,
        )

    def _get_client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    api_key=self._api_key,
                    base_url=self._base_url,
                    timeout=openai.Timeout(self._timeout, connect=self._connect_timeout),
                    max_retries=0,  # ours, so that each retry can be shown
                )
            return self._client

    # ------------------------------------------------------------ streaming

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        request: ModelRequest | None = None,
    ) -> Iterator[StreamEvent]:
        """Stream the answer; see `ChatModel.stream` for the contract."""
        try:
            yield from self._stream(messages, max_tokens, cancel)
        except ModelError as exc:
            if exc.kind in ("context_length", "connection_lost", "protocol"):
                # llama.cpp resets kept-alive connections after such a failure: start afresh.
                self._reset_client()
            raise

    def _reset_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _stream(
        self, messages: list[ChatMessage], max_tokens: int, cancel: threading.Event | None
    ) -> Iterator[StreamEvent]:
        payload = [m.model_dump() for m in messages]
        where = self._where()
        opened = yield from open_request(self._get_client(), payload, max_tokens, where, cancel)
        if opened is None:  # cancelled while waiting
            yield self._finish(payload, [], None, "cancelled", "cancelled")
            return
        if opened.stream is None:
            yield from self._whole_reply(payload, opened.body, where)
            return
        yield from self._read(payload, opened.stream, where, cancel)

    def _read(
        self,
        payload: list[dict[str, Any]],
        sdk_stream: Any,
        where: Where,
        cancel: threading.Event | None,
    ) -> Iterator[StreamEvent]:
        import openai

        parts: list[str] = []
        usage: Usage | None = None
        finish_reason: str | None = None
        failure: ModelError | None = None
        with CloseOnCancel(sdk_stream, cancel):
            try:
                for chunk in sdk_stream:
                    if cancel is not None and cancel.is_set():
                        break
                    if chunk.usage is not None:
                        usage = Usage(
                            prompt_tokens=chunk.usage.prompt_tokens or 0,
                            completion_tokens=chunk.usage.completion_tokens or 0,
                        )
                    for choice in chunk.choices or []:
                        if choice.index != 0:
                            continue
                        text = choice.delta.content if choice.delta is not None else None
                        if text:
                            parts.append(text)
                            yield TextDelta(text)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
            except ValueError as exc:  # json.JSONDecodeError from a junk SSE line
                failure = malformed_stream(where, exc)
            except openai.APITimeoutError as exc:
                failure = map_error(exc, where)
                if parts:
                    failure.message = (
                        f"the model server at {where.endpoint} sent nothing for"
                        f" {where.read_timeout:g}s mid-answer"
                    )
            except openai.APIConnectionError:
                failure = connection_lost(where)
            except openai.APIError as exc:
                failure = map_error(exc, where)
        if cancel is not None and cancel.is_set():
            yield self._finish(payload, parts, usage, "cancelled", "cancelled")
            return
        if failure is not None:
            if not parts:
                raise failure
            yield self._finish(payload, parts, usage, "error", f"stream cut: {failure.message}")
            return
        yield from self._close(payload, parts, usage, finish_reason, where)

    def _close(
        self,
        payload: list[dict[str, Any]],
        parts: list[str],
        usage: Usage | None,
        finish_reason: str | None,
        where: Where,
    ) -> Iterator[StreamEvent]:
        """The `Finish` of a stream that ended normally (or what its end means)."""
        if not "".join(parts).strip() and finish_reason in (None, "length"):
            detail = (
                "ended the stream with no text and no finish reason"
                if finish_reason is None
                else "stopped at the token limit before any text"
            )
            raise overflow_error(where, detail)
        if finish_reason is None:
            yield self._finish(
                payload,
                parts,
                usage,
                "error",
                f"stream cut: the model server at {where.endpoint} ended the stream without"
                " a finish reason",
            )
            return
        error = {
            "length": "the answer hit the token limit",
            "content_filter": "the server's content filter stopped the answer",
        }.get(finish_reason)
        yield self._finish(payload, parts, usage, finish_reason, error)

    def _whole_reply(
        self, payload: list[dict[str, Any]], body: Any, where: Where
    ) -> Iterator[StreamEvent]:
        """A server that ignored `stream` and sent one JSON completion: take it whole."""
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
            message = body.get("error") if isinstance(body, dict) else None
            if isinstance(message, dict):
                message = message.get("message")
            if message:
                shown = where.short(str(message))
                raise ModelError("server", f"the model server at {where.endpoint} failed: {shown}")
            raise malformed_stream(where, ValueError(json.dumps(body)[:80]))
        text, finish_reason = "", None
        for choice in body["choices"]:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                message = choice.get("message") or {}
                text = str(message.get("content") or "")
                finish_reason = choice.get("finish_reason")
        raw = body.get("usage")
        usage = None
        if isinstance(raw, dict):
            usage = Usage(
                prompt_tokens=int(raw.get("prompt_tokens") or 0),
                completion_tokens=int(raw.get("completion_tokens") or 0),
            )
        parts = [text] if text else []
        if text:
            yield TextDelta(text)
        if text and not finish_reason:
            finish_reason = "stop"  # a whole reply with text is a finished answer
        yield from self._close(payload, parts, usage, finish_reason, where)

    # ------------------------------------------------------------ opening the request

    def _finish(
        self,
        payload: list[dict[str, Any]],
        parts: list[str],
        usage: Usage | None,
        finish_reason: str,
        error: str | None,
    ) -> Finish:
        """The closing event; usage is estimated with tiktoken when the server sent none."""
        if usage is None:
            usage = Usage(
                prompt_tokens=sum(count_tokens(m["content"]) + 4 for m in payload) + 3,
                completion_tokens=count_tokens("".join(parts)),
                estimated=True,
            )
        incomplete = finish_reason not in ("stop", "tool_calls", "function_call")
        return Finish(usage=usage, finish_reason=finish_reason, incomplete=incomplete, error=error)
