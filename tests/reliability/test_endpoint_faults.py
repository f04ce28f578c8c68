"""Issue 11, items 7, 8 and 11: a misbehaving OpenAI-compatible server, seen through the
whole turn (`Assistant`) and through real `ra ask` subprocesses (Ctrl-C, SIGTERM, key echo).

The server is tests/openai_server.py on loopback; the client is the real `openai` SDK.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.budget import TOKENIZER_MARGIN, message_tokens
from assistant.config import Settings
from assistant.errors import BudgetError, ModelError, TurnInterrupted
from assistant.history import HistoryStore
from assistant.messages import ChatMessage
from assistant.orchestrator import Assistant
from assistant.redact import StreamMasker, mask
from assistant.turn import WAITING_FOR_MODEL
from tests.home_copy import clean_env, copy_home
from tests.openai_server import OpenAIServer, Reply, words_of

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-ECHO-0123456789abcdefXYZ"
QUESTION = "Which papers study multi-turn jailbreaks?"


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def endpoint_assistant(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer, **update: Any
) -> Assistant:
    settings = seed_settings.model_copy(
        update={
            "model": "test-model",
            "openai_base_url": server.base_url,
            "openai_api_key": SecretStr(KEY),
            "max_retries": 2,
            **update,
        }
    )
    secrets = [KEY]
    history = HistoryStore(tmp_path / "h.sqlite", secrets=secrets)
    return Assistant(settings, index=seed_index, history=history)


# ----- the masking function -----


@pytest.mark.parametrize("cut", [1, 5, 10, 20, len(KEY) - 1])
def test_stream_masker_catches_a_key_split_across_pieces(cut: int) -> None:
    text = f"before {KEY} after {KEY}"
    pieces = [text[: 8 + cut], text[8 + cut : 40], text[40:]]
    masker = StreamMasker([KEY])
    shown = "".join(masker.feed(p) for p in pieces) + masker.flush()
    assert shown == "before *** after ***"


def test_stream_masker_passes_ordinary_text_through_unchanged() -> None:
    masker = StreamMasker([KEY])
    pieces = ["s", "k-", "tes", "t and more", " text"]
    assert "".join(masker.feed(p) for p in pieces) + masker.flush() == "sk-test and more text"
    assert mask("no key here", [KEY]) == "no key here"


# ----- whole turns against the misbehaving server -----


def test_echoed_key_is_masked_in_deltas_answer_and_history(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer
) -> None:
    server.script(Reply(echo_key=True))
    assistant = endpoint_assistant(seed_settings, seed_index, tmp_path, server)
    deltas: list[str] = []
    answer = assistant.ask(QUESTION, on_delta=deltas.append)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was echoed
    shown = "".join(deltas)
    assert shown == answer.answer == "The key is *** (echoed)."
    saved = assistant.conversation(answer.conversation_id or "")
    assert KEY not in saved.model_dump_json()
    assert KEY not in assistant.export_markdown(answer.conversation_id or "")


def test_retries_reach_on_status(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer
) -> None:
    server.script(
        Reply.error(503, "busy", type_="server_error", retry_after_ms=10),
        Reply.error(503, "busy", type_="server_error", retry_after_ms=10),
    )
    assistant = endpoint_assistant(seed_settings, seed_index, tmp_path, server)
    statuses: list[str] = []
    answer = assistant.ask(QUESTION, on_status=statuses.append)
    assert answer.answer == "Hello from the test server." and not answer.incomplete
    # The stage first (the chat shows it until the first words), then each retry.
    assert statuses[0] == WAITING_FOR_MODEL
    retries = statuses[1:]
    assert [s.rsplit(";", 1)[1] for s in retries] == [" retry 1 of 2", " retry 2 of 2"]
    assert all("HTTP 503" in s and server.base_url in s for s in retries)


def test_empty_stream_is_an_overflow_hint_and_saves_no_empty_answer(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer
) -> None:
    server.script(Reply.stream([], no_finish=True))
    assistant = endpoint_assistant(seed_settings, seed_index, tmp_path, server)
    conversation = assistant.new_conversation()
    with pytest.raises(ModelError) as info:
        assistant.ask(QUESTION, conversation_id=conversation)
    assert info.value.kind == "context_length"
    assert "RA_CONTEXT_WINDOW" in (info.value.hint or "")
    assert "RA_MAX_ANSWER_TOKENS" in (info.value.hint or "")
    (turn,) = assistant.conversation(conversation).turns
    assert turn.status == "failed" and turn.answer is None
    assert "overflowed" in (turn.error or "")


def test_estimated_usage_is_marked(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer
) -> None:
    server.script(Reply.stream(["No", " usage", " here."], no_usage=True), Reply.stream(["Ok."]))
    assistant = endpoint_assistant(seed_settings, seed_index, tmp_path, server)
    estimated = assistant.ask(QUESTION)
    assert estimated.usage.estimated and estimated.usage.completion_tokens > 0
    reported = assistant.ask(QUESTION)
    assert not reported.usage.estimated


def test_window_too_small_for_the_answer_room_names_the_setting(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer
) -> None:
    assistant = endpoint_assistant(seed_settings, seed_index, tmp_path, server, context_window=600)
    with pytest.raises(BudgetError) as info:
        assistant.ask(QUESTION)
    assert "RA_MAX_ANSWER_TOKENS" in (info.value.hint or "")
    assert "600-token" in info.value.message
    assert server.requests == []  # the model was not called


def test_no_source_fits_says_so_instead_of_calling_the_model(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer
) -> None:
    assistant = endpoint_assistant(seed_settings, seed_index, tmp_path, server, context_window=700)
    with pytest.raises(BudgetError) as info:
        assistant.ask(QUESTION)
    assert "none of the" in info.value.message and "fits" in info.value.message
    assert "RA_MAX_ANSWER_TOKENS" in (info.value.hint or "")
    assert server.requests == []


def test_window_learned_from_props_shapes_the_prompt(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer
) -> None:
    server.props = {"default_generation_settings": {"n_ctx": 2048}}
    assistant = endpoint_assistant(seed_settings, seed_index, tmp_path, server)
    answer = assistant.ask(QUESTION)
    assert assistant.model.context_window == 2048
    assert "llama.cpp /props" in getattr(assistant.model, "context_window_source", "")
    # The request fits 2048 with the answer room and the tokenizer margin to spare.
    request = server.requests[0].body
    prompt = message_tokens([ChatMessage(**m) for m in request["messages"]])
    assert answer.sources
    assert prompt * (1 + TOKENIZER_MARGIN) + request["max_tokens"] <= 2048


def test_keyboard_interrupt_mid_stream_keeps_the_partial_answer(
    seed_settings: Settings, seed_index: Any, tmp_path: Path, server: OpenAIServer
) -> None:
    server.script(Reply.stream(words_of("one two three four five six seven eight")))
    assistant = endpoint_assistant(seed_settings, seed_index, tmp_path, server)
    seen: list[str] = []

    def on_delta(text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does in the main thread

    with pytest.raises(TurnInterrupted) as info:
        assistant.ask(QUESTION, on_delta=on_delta)
    answer = info.value.answer
    assert answer.answer == "one two three"
    assert answer.incomplete and answer.finish_reason == "interrupted"
    (turn,) = assistant.conversation(answer.conversation_id or "").turns
    assert turn.status == "done" and turn.answer is not None
    assert turn.answer.incomplete and turn.answer.answer == "one two three"


# ----- real `ra ask` subprocesses -----


@pytest.fixture(scope="module")
def home(seed_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(seed_home, tmp_path_factory.mktemp("endpoint") / "home")


def ra_env(home: Path, server: OpenAIServer, **extra: str) -> dict[str, str]:
    return clean_env(
        home,
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY=KEY,
        RA_MODEL="test-model",
        RA_MAX_RETRIES="0",
        **extra,
    )


def ra(home: Path, server: OpenAIServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        cwd=REPO,
        env=ra_env(home, server),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_ra_ask_masks_an_echoed_key_plain_and_json(home: Path, server: OpenAIServer) -> None:
    server.script(Reply(echo_key=True), Reply(echo_key=True))
    plain = ra(home, server, "ask", QUESTION)
    assert plain.returncode == 0, plain.stderr
    assert "The key is *** (echoed)." in plain.stdout
    as_json = ra(home, server, "ask", QUESTION, "--json", "--save")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["answer"] == "The key is *** (echoed)."
    shown = ra(home, server, "history", "show", data["conversation_id"], "--json")
    assert "The key is *** (echoed)." in shown.stdout
    for result in (plain, as_json, shown):
        assert KEY not in result.stdout + result.stderr


@pytest.mark.slow
def test_ra_ask_junk_sse_line_is_one_line(home: Path, server: OpenAIServer) -> None:
    # Before: a 43-line JSONDecodeError traceback. (The other faults are shown through the
    # Assistant above and the model in tests/test_chat_openai.py.)
    server.script(Reply.stream(["x"], junk_after=0))
    result = ra(home, server, "ask", QUESTION)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ra: error: "), result.stderr
    assert "sent a malformed stream line" in lines[0] and server.base_url in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "as_json"),
    [(signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGINT-plain", "SIGTERM-json"],
)
def test_signal_mid_stream_prints_and_saves_the_partial_answer(
    home: Path, server: OpenAIServer, sig: signal.Signals, as_json: bool
) -> None:
    # Three chunks, then the server holds the rest back: the signal lands mid-answer.
    server.script(Reply.stream(words_of("Alpha beta gamma delta epsilon"), hold_after=3))
    args = [sys.executable, "-m", "shells.cli", "ask", QUESTION, "--save"]
    args += ["--json"] if as_json else []
    proc = subprocess.Popen(
        args,
        cwd=REPO,
        env=ra_env(home, server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.held.wait(240), "the answer never started"
        if not as_json:  # wait until the partial text reached the terminal
            assert proc.stdout is not None
            shown = ""
            while "gamma" not in shown:
                char = proc.stdout.read(1)
                assert char, "stdout closed early"
                shown += char
        else:
            threading.Event().wait(1.0)  # let the three chunks arrive
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        server.release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "the partial answer is saved in history, marked incomplete" in err
    if as_json:
        data = json.loads(out)
        assert data["answer"] == "Alpha beta gamma"
        assert data["incomplete"] and data["finish_reason"] == "interrupted"
        conversation = data["conversation_id"]
    else:
        assert "Alpha beta gamma" in shown + out
        conversation = err.rsplit("conversation ", 1)[1].split(")")[0]
    saved = ra(home, server, "history", "show", conversation, "--json")
    (turn,) = json.loads(saved.stdout)["turns"]
    assert turn["status"] == "done"
    assert turn["answer"]["answer"] == "Alpha beta gamma"
    assert turn["answer"]["incomplete"] and turn["answer"]["finish_reason"] == "interrupted"
