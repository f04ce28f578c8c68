"""Chat messages as sent to a model: the one type the prompt builder and the models share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One chat message as sent to the model."""

    role: Role
    content: str
