"""Chat model for any OpenAI-compatible endpoint, through the `openai` SDK (imported lazily).

Streaming with `stream_options={"include_usage": True}`; timeouts and retries with
exponential backoff on 408/409/429/5xx and connection errors come from the SDK
(`timeout`, `max_retries`). Every failure a user can fix becomes a one-line `ModelError`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant.answer import Usage
from assistant.chat.base import ChatMessage, Finish, ModelRequest, StreamEvent, TextDelta
from assistant.errors import ModelError
from retrieval.tokens import count_tokens

if TYPE_CHECKING:
    import openai

_KEY_LIKE = re.compile(r"\b(sk|key|api)[-_][A-Za-z0-9_\-]{6,}", re.IGNORECASE)
# Placeholder for local servers (Ollama, vLLM, llama.cpp) that need no key.
NO_KEY = "not-needed"


class OpenAIChatModel:
    """An OpenAI-compatible chat model; `name` is the model id sent to the server."""

    def __init__(
        self,
        name: str,
        *,
        api_key: str | None,
        base_url: str | None,
        context_window: int,
        timeout: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        if not api_key and not base_url:
            raise ModelError(
                "config",
                f"model {name!r} needs an OpenAI-compatible endpoint, and none is configured",
                "set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server),"
                " or use --model offline",
            )
        self.name = name
        self.context_window = context_window
        self._api_key = api_key or NO_KEY
        self._base_url = base_url
        self._timeout = timeout
        self._max_retries = max_retries
        self._client: openai.OpenAI | None = None
        self._use_completion_tokens = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIChatModel(name={self.name!r}, base_url={self.endpoint!r})"

    @property
    def endpoint(self) -> str:
        """The server as shown to users: scheme://host[:port][/path], never credentials."""
        if not self._base_url:
            return "https://api.openai.com/v1"
        parts = urlsplit(self._base_url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/")

    def _get_client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    api_key=self._api_key,
                    base_url=self._base_url,
                    timeout=self._timeout,
                    max_retries=self._max_retries,
                )
            return self._client

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        request: ModelRequest | None = None,
    ) -> Iterator[StreamEvent]:
        """Stream the answer; see `ChatModel.stream` for the contract."""
        import openai

        payload = [m.model_dump() for m in messages]
        stream = self._open(payload, max_tokens)
        parts: list[str] = []
        usage: Usage | None = None
        finish_reason: str | None = None
        try:
            for chunk in stream:
                if cancel is not None and cancel.is_set():
                    yield self._finish(payload, parts, usage, "cancelled", "cancelled")
                    return
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
        except openai.APIError as exc:
            failure = self._map_error(exc)
            if not parts:
                raise failure from None
            yield self._finish(payload, parts, usage, "error", f"stream cut: {failure.message}")
            return
        finally:
            stream.close()
        if finish_reason is None:
            yield self._finish(
                payload, parts, usage, "error", "stream cut: the server closed it before the end"
            )
            return
        error = {
            "length": "the answer hit the token limit",
            "content_filter": "the server's content filter stopped the answer",
        }.get(finish_reason)
        yield self._finish(payload, parts, usage, finish_reason, error)

    def _open(self, payload: list[dict[str, Any]], max_tokens: int) -> Any:
        """Start the streamed request (the SDK retries retryable failures)."""
        import openai

        client = self._get_client()
        for _ in range(2):
            limit = "max_completion_tokens" if self._use_completion_tokens else "max_tokens"
            request: dict[str, Any] = {
                "model": self.name,
                "messages": payload,
                "stream": True,
                "stream_options": {"include_usage": True},
                "temperature": 0,
                limit: max_tokens,
            }
            try:
                return client.chat.completions.create(**request)
            except openai.BadRequestError as exc:
                text = _error_text(exc)
                if "max_completion_tokens" in text and not self._use_completion_tokens:
                    self._use_completion_tokens = True
                    continue
                raise self._map_error(exc) from None
            except openai.APIError as exc:
                raise self._map_error(exc) from None
        raise ModelError(
            "bad_request", "the server rejected both max_tokens and max_completion_tokens"
        )

    def _finish(
        self,
        payload: list[dict[str, Any]],
        parts: list[str],
        usage: Usage | None,
        finish_reason: str,
        error: str | None,
    ) -> Finish:
        """The closing event; usage is counted with tiktoken when the server sent none."""
        if usage is None:
            usage = Usage(
                prompt_tokens=sum(count_tokens(m["content"]) + 4 for m in payload) + 3,
                completion_tokens=count_tokens("".join(parts)),
            )
        incomplete = finish_reason not in ("stop", "tool_calls", "function_call")
        return Finish(usage=usage, finish_reason=finish_reason, incomplete=incomplete, error=error)

    def _map_error(self, exc: Exception) -> ModelError:
        """A one-line, secret-free `ModelError` for an SDK exception."""
        import openai

        where = self.endpoint
        retries = self._max_retries
        if isinstance(exc, openai.APITimeoutError):
            return ModelError(
                "timeout",
                f"the model server at {where} did not answer within {self._timeout:g}s",
                "raise RA_TIMEOUT, or check that the server is not overloaded",
            )
        if isinstance(exc, openai.APIConnectionError):
            return ModelError(
                "unreachable",
                f"cannot reach the model server at {where}",
                "is it running? check OPENAI_BASE_URL and your network",
            )
        if isinstance(exc, openai.AuthenticationError):
            return ModelError(
                "auth",
                f"the API key was rejected by {where} (401 invalid key)",
                "check OPENAI_API_KEY",
            )
        if isinstance(exc, openai.PermissionDeniedError):
            return ModelError(
                "auth",
                f"the API key may not use model {self.name!r} at {where} (403)",
                "check the key's permissions or pick another model",
            )
        if isinstance(exc, openai.NotFoundError):
            return ModelError(
                "not_found",
                f"model {self.name!r} is not available at {where} (404 unknown model)",
                "check --model / RA_MODEL, and that OPENAI_BASE_URL ends with /v1",
            )
        if isinstance(exc, openai.RateLimitError):
            text = _error_text(exc)
            if "insufficient_quota" in text or "quota" in text:
                return ModelError(
                    "rate_limit",
                    f"the account behind the API key is out of quota at {where} (429)",
                    "check your plan and billing",
                )
            return ModelError(
                "rate_limit",
                f"rate limited by {where} (429), still after {retries} retries",
                "wait a minute and try again, or lower the request rate",
            )
        if isinstance(exc, openai.BadRequestError):
            text = _error_text(exc)
            if "context_length" in text or "context length" in text or "too long" in text:
                return ModelError(
                    "context_length",
                    f"the prompt is too long for model {self.name!r}'s context window",
                    "set RA_CONTEXT_WINDOW to the model's real window, or give fewer papers (--k)",
                )
            return ModelError(
                "bad_request",
                f"the model server refused the request (400): {self._short(exc)}",
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status >= 500:
                return ModelError(
                    "server",
                    f"the model server at {where} failed (HTTP {status}), still after "
                    f"{retries} retries",
                    "try again later",
                )
            return ModelError(
                "bad_request",
                f"the model server refused the request (HTTP {status}): {self._short(exc)}",
            )
        if isinstance(exc, openai.APIError):
            return ModelError("server", f"the model server failed: {self._short(exc)}")
        return ModelError("server", f"the model call failed: {type(exc).__name__}")

    def _short(self, exc: Exception) -> str:
        """The server's message, one line, at most 160 characters, secrets removed."""
        message = getattr(exc, "message", None) or str(exc)
        message = " ".join(str(message).split())
        if self._api_key and self._api_key != NO_KEY:
            message = message.replace(self._api_key, "***")
        message = _KEY_LIKE.sub("***", message)
        return message[:160]


def _error_text(exc: Exception) -> str:
    """Lower-cased code + message of an SDK error, for classification only."""
    code = getattr(exc, "code", None) or ""
    message = getattr(exc, "message", None) or str(exc)
    return f"{code} {message}".lower()
