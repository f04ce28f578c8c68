"""The models an OpenAI-compatible endpoint serves (`GET /v1/models`), for `/model`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.errors import ModelError

if TYPE_CHECKING:
    from assistant.config import Settings

LIST_TIMEOUT_S = 5.0


def endpoint_models(settings: Settings) -> list[str]:
    """Model ids from the configured endpoint, sorted; [] when no endpoint is configured."""
    if not (settings.openai_api_key or settings.openai_base_url):
        return []
    import openai

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
    client = openai.OpenAI(
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=min(settings.request_timeout, LIST_TIMEOUT_S),
        max_retries=0,
    )
    try:
        return sorted({model.id for model in client.models.list()})
    except openai.APIStatusError as exc:
        raise ModelError(
            "server", f"the endpoint cannot list its models (HTTP {exc.status_code})"
        ) from exc
    except openai.OpenAIError as exc:
        where = settings.openai_base_url or "the OpenAI API"
        raise ModelError(
            "unreachable", f"cannot reach {where} to list models ({type(exc).__name__})"
        ) from exc
