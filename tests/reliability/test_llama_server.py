"""Issue 11, item 11 against a real llama.cpp server (llama-cpp-python's, on loopback).

The model is made here: a tiny Llama-architecture GGUF with random weights and an SPM
vocabulary built from the seed papers and prompts (tests/tiny_gguf.py); nothing is
downloaded. The server runs with its default `--n_ctx 2048`.

Needs `pip install 'llama-cpp-python[server]' gguf` (it compiles, ~5 minutes): run with
`make test-llama`. Marked `llama` and deselected from the default `make test`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.budget import TOKENIZER_MARGIN
from assistant.chat.base import ChatMessage, Finish, TextDelta
from assistant.chat.openai_chat import OpenAIChatModel
from assistant.chat.registry import context_window_info
from assistant.config import load_settings
from assistant.errors import ModelError
from retrieval.tokens import count_tokens
from tests.home_copy import clean_env, copy_home
from tests.openai_server import free_port

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
pytest.importorskip("gguf", reason="gguf is not installed")

pytestmark = [pytest.mark.llama, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ALIAS = "tiny-random"  # an unknown model name, as a user's local model usually is
N_CTX = 2048
QUESTION = "Which papers study multi-turn jailbreaks?"
MESSAGES = [
    ChatMessage(role="system", content="You answer from the sources."),
    ChatMessage(role="user", content="Say something about jailbreak attacks."),
]


class LlamaServer:
    """`python -m llama_cpp.server` on a free loopback port."""

    def __init__(self, model: Path, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                ALIAS,
                "--n_ctx",
                str(N_CTX),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, log.read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "llama.cpp server did not start"
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_gguf import write_tiny_model

    texts = [p.read_text(encoding="utf-8") for p in (REPO / "seeds").glob("*.txt")]
    texts += [p.read_text(encoding="utf-8") for p in (REPO / "prompts").glob("*")]
    return write_tiny_model(tmp_path_factory.mktemp("gguf") / "tiny.gguf", texts)


@pytest.fixture(scope="module")
def llama(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(tiny_model, tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def home(seed_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(seed_home, tmp_path_factory.mktemp("llama-cli") / "home")


def ra(home: Path, llama: LlamaServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        cwd=REPO,
        env=clean_env(home, OPENAI_BASE_URL=llama.base_url, RA_MODEL=ALIAS, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def model(llama: LlamaServer, **kw: float) -> OpenAIChatModel:
    return OpenAIChatModel(ALIAS, api_key=None, base_url=llama.base_url, max_retries=0, **kw)


def collect(stream: Iterator[object]) -> tuple[str, Finish]:
    parts: list[str] = []
    finish: Finish | None = None
    for event in stream:
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, Finish):
            finish = event
    assert finish is not None
    return "".join(parts), finish


def test_the_tokenizer_is_denser_than_cl100k(llama: LlamaServer) -> None:
    # What makes the margin matter: the server counts more tokens than our cl100k budget.
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt")))
    request = urllib.request.Request(
        llama.base_url.removesuffix("/v1") + "/extras/tokenize",
        data=json.dumps({"input": text}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        server_tokens = len(json.loads(reply.read())["tokens"])
    ratio = server_tokens / count_tokens(text)
    assert 1.05 < ratio < 1 + TOKENIZER_MARGIN, ratio


def test_default_settings_fail_with_the_overflow_hint(home: Path, llama: LlamaServer) -> None:
    # Unknown name -> 4096 assumed; the server has 2048 and answers with an empty stream.
    result = ra(home, llama, "ask", QUESTION, "--save")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "RA_CONTEXT_WINDOW" in lines[0] and "RA_MAX_ANSWER_TOKENS" in lines[0]
    assert "overflowed" in lines[0] and llama.base_url in lines[0]
    assert "stream cut" not in lines[0]
    # No empty answer is saved as a finished turn: the turn is failed, with the reason.
    (conversation,) = json.loads(ra(home, llama, "history", "--json").stdout)
    shown = json.loads(ra(home, llama, "history", "show", conversation["id"], "--json").stdout)
    (turn,) = shown["turns"]
    assert turn["status"] == "failed" and turn["answer"] is None
    assert "overflowed" in turn["error"]


def test_with_the_window_set_the_answer_comes(home: Path, llama: LlamaServer) -> None:
    # The server's tokenizer counts ~15% more than cl100k: the margin keeps the prompt
    # plus the default 800-token answer room inside 2048 (before: an empty stream).
    result = ra(home, llama, "ask", QUESTION, "--json", RA_CONTEXT_WINDOW=str(N_CTX))
    assert result.returncode in (0, 3), result.stderr  # 3: the babbling model hit max_tokens
    data = json.loads(result.stdout)
    assert data["answer"].strip() and data["sources"]
    assert data["finish_reason"] in ("stop", "length")
    # llama-cpp-python sends no usage: ours is a cl100k estimate, and says so.
    assert data["usage"]["estimated"] is True
    assert data["usage"]["prompt_tokens"] > 0


def test_window_source_is_reported(llama: LlamaServer, tmp_path: Path) -> None:
    os.environ.pop("RA_CONTEXT_WINDOW", None)
    settings = load_settings(home=tmp_path, model=ALIAS, openai_base_url=llama.base_url)
    tokens, source = context_window_info(settings)
    # llama-cpp-python's server (unlike llama.cpp's llama-server) has no /props and no
    # max_model_len, so the window is the conservative default, and the source says so.
    assert (tokens, source.split(" (")[0]) == (4096, "default for an unknown model")
    set_window = settings.model_copy(update={"context_window": N_CTX})
    assert context_window_info(set_window) == (N_CTX, "RA_CONTEXT_WINDOW")


def test_cancel_closes_the_response_at_once(llama: LlamaServer) -> None:
    full, finish = collect(model(llama).stream(MESSAGES, max_tokens=300))
    assert finish.finish_reason == "length" and full
    cancel = threading.Event()
    first = threading.Event()
    events: list[object] = []

    def consume() -> None:
        for event in model(llama).stream(MESSAGES, max_tokens=1500, cancel=cancel):
            events.append(event)
            first.set()

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    assert first.wait(60)
    cancel.set()
    worker.join(30)
    assert not worker.is_alive(), "cancel did not end the stream"
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    last = events[-1]
    assert isinstance(last, Finish) and last.finish_reason == "cancelled"
    assert text and full.startswith(text)  # same deterministic answer, cut short
    # The server is fine afterwards.
    again, _ = collect(model(llama).stream(MESSAGES, max_tokens=300))
    assert again == full


def test_server_killed_mid_answer(tiny_model: Path, tmp_path: Path) -> None:
    server = LlamaServer(tiny_model, tmp_path / "server.log")
    try:
        parts: list[str] = []
        finish: Finish | None = None
        for event in model(server).stream(MESSAGES, max_tokens=1500):
            if isinstance(event, TextDelta):
                parts.append(event.text)
                if len(parts) == 3:
                    server.proc.kill()
            elif isinstance(event, Finish):
                finish = event
        assert finish is not None and finish.incomplete and len(parts) >= 3
        assert finish.error is not None and "was lost mid-answer" in finish.error
        assert server.base_url in finish.error
        assert "cannot reach" not in finish.error
        # Now it is really gone: that is "cannot reach".
        server.proc.wait(10)
        with pytest.raises(ModelError) as info:
            collect(model(server).stream(MESSAGES, max_tokens=10))
        assert info.value.kind == "unreachable"
    finally:
        server.stop()
