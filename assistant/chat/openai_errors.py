"""SDK exceptions and stream faults as one-line, secret-free `ModelError`s.

Each message names the server (scheme://host:port/path, never credentials) and, where the
user can act, the hint names the setting to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from assistant.errors import ModelError
from assistant.redact import mask

_KEY_LIKE = re.compile(r"\b(sk|key|api)[-_][A-Za-z0-9_\-]{6,}", re.IGNORECASE)

OVERFLOW_HINT = (
    "set RA_CONTEXT_WINDOW to the server's real window (llama.cpp: its --n_ctx / -c),"
    " or lower RA_MAX_ANSWER_TOKENS"
)


@dataclass(frozen=True)
class Where:
    """What an error message needs to know about the call."""

    endpoint: str
    model: str
    secrets: tuple[str, ...] = ()
    read_timeout: float = 60.0
    connect_timeout: float = 5.0
    total_timeout: float = 120.0
    retries: int = 0

    def short(self, exc: BaseException | str) -> str:
        """The server's message, one line, at most 160 characters, secrets removed."""
        message = exc if isinstance(exc, str) else getattr(exc, "message", None) or str(exc)
        message = " ".join(str(message).split())
        message = _KEY_LIKE.sub("***", mask(message, self.secrets))
        return message[:160]


def error_text(exc: BaseException) -> str:
    """Lower-cased code + param + message of an SDK error, for classification only."""
    code = getattr(exc, "code", None) or ""
    param = getattr(exc, "param", None) or ""
    message = getattr(exc, "message", None) or str(exc)
    return f"{code} {param} {message}".lower()


def is_context_overflow(text: str) -> bool:
    """True when a server's 400 text says the prompt is longer than the context window."""
    return any(
        marker in text
        for marker in (
            "context_length",
            "context length",
            "context window",
            "too long",
            "exceeds the context",
            "maximum context",
        )
    )


def overflow_error(where: Where, detail: str) -> ModelError:
    """The prompt (plus answer room) probably did not fit the server's window."""
    return ModelError(
        "context_length",
        f"the model server at {where.endpoint} {detail}: the prompt probably overflowed"
        f" the context window of model {where.model!r}",
        OVERFLOW_HINT,
    )


def connection_lost(where: Where) -> ModelError:
    return ModelError(
        "connection_lost",
        f"the connection to the model server at {where.endpoint} was lost mid-answer",
        "the server may have crashed or restarted: check it, then ask again",
    )


def malformed_stream(where: Where, exc: BaseException) -> ModelError:
    """A stream line that is not the JSON an OpenAI-compatible server sends."""
    doc = getattr(exc, "doc", None)
    shown = where.short(doc if isinstance(doc, str) else str(exc))[:80]
    return ModelError(
        "protocol",
        f"the model server at {where.endpoint} sent a malformed stream line: {shown!r}",
        "check that OPENAI_BASE_URL points at an OpenAI-compatible /v1 endpoint",
    )


def map_error(exc: BaseException, where: Where, *, reached: bool = False) -> ModelError:
    """A one-line, secret-free `ModelError` for an SDK exception.

    `reached` says an earlier attempt got an answer from the server, so a connection
    failure now means the server went away rather than was never there.
    """
    import openai

    at = where.endpoint
    retries = where.retries
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(
            "timeout",
            f"no answer from the model server at {at}: it sent nothing for"
            f" {where.read_timeout:g}s (connect limit {where.connect_timeout:g}s, total"
            f" {where.total_timeout:g}s, {retries} retries)",
            "raise RA_TIMEOUT / RA_TOTAL_TIMEOUT, or check that the server is not overloaded",
        )
    if isinstance(exc, openai.APIConnectionError):
        if reached:
            return ModelError(
                "connection_lost",
                f"the connection to the model server at {at} was lost, still after"
                f" {retries} retries",
                "the server may have crashed or restarted: check it, then ask again",
            )
        return ModelError(
            "unreachable",
            f"cannot reach the model server at {at}",
            "is it running? check OPENAI_BASE_URL and your network",
        )
    if isinstance(exc, openai.AuthenticationError):
        return ModelError(
            "auth", f"the API key was rejected by {at} (401 invalid key)", "check OPENAI_API_KEY"
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return ModelError(
            "auth",
            f"the API key may not use model {where.model!r} at {at} (403)",
            "check the key's permissions or pick another model",
        )
    if isinstance(exc, openai.NotFoundError):
        return ModelError(
            "not_found",
            f"model {where.model!r} is not available at {at} (404 unknown model)",
            "check --model / RA_MODEL, and that OPENAI_BASE_URL ends with /v1",
        )
    if isinstance(exc, openai.RateLimitError):
        text = error_text(exc)
        if "insufficient_quota" in text or "quota" in text:
            return ModelError(
                "rate_limit",
                f"the account behind the API key is out of quota at {at} (429)",
                "check your plan and billing",
            )
        return ModelError(
            "rate_limit",
            f"rate limited by {at} (429), still after {retries} retries",
            "wait a minute and try again, or lower the request rate",
        )
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        if is_context_overflow(error_text(exc)):
            return ModelError(
                "context_length",
                f"the prompt is too long for model {where.model!r}'s context window",
                OVERFLOW_HINT + ", or give fewer papers (--k)",
            )
        status = getattr(exc, "status_code", 400)
        return ModelError(
            "bad_request",
            f"the model server refused the request ({status}): {where.short(exc)}",
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500:
            return ModelError(
                "server",
                f"the model server at {at} failed (HTTP {status}), still after {retries} retries",
                "try again later",
            )
        return ModelError(
            "bad_request",
            f"the model server refused the request (HTTP {status}): {where.short(exc)}",
        )
    if isinstance(exc, openai.APIError):
        return ModelError("server", f"the model server at {at} failed: {where.short(exc)}")
    return ModelError("server", f"the model call to {at} failed: {type(exc).__name__}")


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms / retry-after), if any."""
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            continue
    return None


def is_retryable(exc: BaseException) -> bool:
    """Failures worth another attempt: timeouts, lost connections, 408/409/429/5xx."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.RateLimitError):
        return "quota" not in error_text(exc)
    if isinstance(exc, openai.APIStatusError):
        response: Any = getattr(exc, "response", None)
        should = response.headers.get("x-should-retry") if response is not None else None
        if should in ("true", "false"):
            return should == "true"
        return exc.status_code in (408, 409) or exc.status_code >= 500
    return False


def why_retry(exc: BaseException, where: Where) -> str:
    """A few words on why we are about to try again, for the status line."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return f"no answer for {where.read_timeout:g}s"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited (429)"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__
