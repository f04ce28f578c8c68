"""The offline model: deterministic, extractive, cited; no network, no key.

It reads the numbered sources in its prompt (`offline_compose`), answers with their most
relevant sentences each followed by `[n]`, abstains when they do not cover the question,
and streams the reply word by word. It can be told to misbehave so tests and evals can
prove the guards work (see MISBEHAVIOURS).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from assistant.answer import Usage
from assistant.budget import OFFLINE_CONTEXT_WINDOW, message_tokens
from assistant.chat.base import ChatMessage, Finish, ModelRequest, StreamEvent, TextDelta
from assistant.chat.offline_compose import compose
from assistant.citations import MARKER, marker_numbers, strip_markers
from assistant.errors import ModelError
from assistant.prompts import ABSTAIN_SENTENCE
from retrieval.tokens import count_tokens, truncate_tokens

# name -> what it does
MISBEHAVIOURS: dict[str, str] = {
    "invent-citation": "cites a source number that was not given",
    "no-citations": "drops every citation marker",
    "wrong-source": "cites a given source, but not the one the sentence came from",
    "fail-midstream": "raises a ModelError after half of the answer",
    "slow": "streams slowly (a pause per word; honours cancel)",
}
SLOW_DELAY = 0.05  # seconds per word for "slow"
_WORD = re.compile(r"\s*\S+")


class OfflineChatModel:
    """The built-in offline model; `misbehaviour` is one of MISBEHAVIOURS or None."""

    # Its answers are quoted from the sources (labelled "extractive" in the Answer).
    extractive = True

    def __init__(
        self,
        misbehaviour: str | None = None,
        *,
        delay: float = SLOW_DELAY,
        context_window: int = OFFLINE_CONTEXT_WINDOW,
    ) -> None:
        if misbehaviour is not None and misbehaviour not in MISBEHAVIOURS:
            known = ", ".join(MISBEHAVIOURS)
            raise ModelError(
                "config", f"unknown offline misbehaviour {misbehaviour!r}", f"use one of: {known}"
            )
        self.misbehaviour = misbehaviour
        self.name = f"offline:{misbehaviour}" if misbehaviour else "offline"
        self.delay = delay
        self.context_window = context_window

    def reply(self, request: ModelRequest | None) -> str:
        """The full reply text (misbehaviour applied), before streaming.

        Reads only `request`; without one (a caller that sends bare messages) there is
        nothing to answer from, so it abstains.
        """
        if request is None:
            return ABSTAIN_SENTENCE
        text = compose(request)
        if request.task in ("condense", "judge"):
            return text
        return self._misbehave(text, len(request.sources))

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
        request: ModelRequest | None = None,
    ) -> Iterator[StreamEvent]:
        """Stream the reply word by word; see `ChatModel.stream`."""
        text = self.reply(request)
        finish_reason = "stop"
        if count_tokens(text) > max_tokens:
            text = truncate_tokens(text, max_tokens)
            finish_reason = "length"
        prompt_tokens = message_tokens(messages)
        words = _WORD.findall(text)
        fail_at = len(words) // 2 if self.misbehaviour == "fail-midstream" else None
        sent: list[str] = []
        for i, word in enumerate(words):
            if cancel is not None and cancel.is_set():
                yield self._finish(prompt_tokens, sent, "cancelled")
                return
            if i == fail_at:
                raise ModelError(
                    "interrupted", "the offline model failed mid-answer (simulated fault)"
                )
            if self.misbehaviour == "slow":
                if cancel is not None:
                    if cancel.wait(self.delay):
                        yield self._finish(prompt_tokens, sent, "cancelled")
                        return
                else:
                    threading.Event().wait(self.delay)
            sent.append(word)
            yield TextDelta(word)
        yield self._finish(prompt_tokens, sent, finish_reason)

    @staticmethod
    def _finish(prompt_tokens: int, sent: list[str], reason: str) -> Finish:
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=count_tokens("".join(sent)))
        return Finish(usage=usage, finish_reason=reason, incomplete=reason != "stop")

    def _misbehave(self, text: str, n_sources: int) -> str:
        if self.misbehaviour == "no-citations":
            return strip_markers(text)
        if self.misbehaviour == "invent-citation":
            bogus = n_sources + 7
            match = MARKER.search(text)
            if match is None:
                return re.sub(r"([.!?])?\s*$", rf" [{bogus}]\1", text, count=1)
            return f"{text[: match.end()]}[{bogus}]{text[match.end() :]}"
        if self.misbehaviour == "wrong-source" and n_sources > 1:

            def shift(match: re.Match[str]) -> str:
                numbers = marker_numbers(match.group(1))
                return "[" + ", ".join(str(n % n_sources + 1) for n in numbers) + "]"

            return MARKER.sub(shift, text)
        return text
