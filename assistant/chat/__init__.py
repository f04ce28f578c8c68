"""Chat models behind one interface (`ChatModel`).

`assistant.chat.registry.make_chat_model` makes one by name; `offline` is the built-in
deterministic model, any other name a model on the OpenAI-compatible endpoint.
"""

from assistant.chat.base import ChatMessage, ChatModel, Finish, StreamEvent, TextDelta, complete

__all__ = ["ChatMessage", "ChatModel", "Finish", "StreamEvent", "TextDelta", "complete"]
