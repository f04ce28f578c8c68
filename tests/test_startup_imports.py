"""Each one-shot command imports only what it uses (issue 8): real `ra` subprocesses under
`python -X importtime`, asserting on the module names they load, never on timings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.home_copy import clean_env, copy_home

REPO = Path(__file__).resolve().parents[1]

MODEL_CLIENTS = {"textual", "openai", "tiktoken"}  # the chat UI, the endpoint, prompt budgets
# Never needed by a command that asks no model.
TURNS = MODEL_CLIENTS | {"assistant.orchestrator", "assistant.chat", "assistant.budget"}
# Only `ra history` (and the turns) open the conversation store.
NO_TURNS_OR_HISTORY = TURNS | {"assistant.history"}
# Settings are a plain pydantic model (chromadb and bm25s still import these two themselves).
SETTINGS_EXTRAS = {"pydantic_settings", "asyncio"}
NO_INDEX = {"numpy", "retrieval.index", "chromadb", "bm25s", "tokenizers"}
# Only a warmed-up long-lived process (the chat) builds the ONNX Runtime query encoder.
LONG_LIVED = {"onnxruntime", "retrieval.minilm_onnx"}


@pytest.fixture(scope="module")
def home(seed_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the indexed seed home, with the MiniLM weight cache already written."""
    from retrieval.minilm import get_embedder

    get_embedder().load()  # converts the weights once if no cache exists yet
    return copy_home(seed_home, tmp_path_factory.mktemp("startup") / "home")


def imported(home: Path, *args: str, **env: str) -> set[str]:
    """The modules `ra ARGS` imports (from its -X importtime report), after a clean exit."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "shells.cli", *args],
        cwd=REPO,
        env=clean_env(home, **(env or {"RA_MODEL": "offline"})),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}  # [0] is the header


def loaded(modules: set[str], forbidden: set[str]) -> set[str]:
    """The names of `forbidden` that were imported (a package counts with its submodules)."""
    return {f for f in forbidden if any(m == f or m.startswith(f + ".") for m in modules)}


def test_the_import_report_is_read(home: Path) -> None:
    modules = imported(home, "config")
    # (modules loaded by importlib.import_module, like the command's own, are not reported)
    assert {"shells.commands.common", "assistant.config", "pydantic"} <= modules


@pytest.mark.parametrize(
    ("args", "forbidden"),
    [
        (("--help",), TURNS | SETTINGS_EXTRAS | NO_INDEX | {"pydantic", "rich"}),
        # `ra config` reports the model's context window: it needs the chat registry.
        (("config",), MODEL_CLIENTS | SETTINGS_EXTRAS | NO_INDEX | {"assistant.orchestrator"}),
        (("history",), TURNS | SETTINGS_EXTRAS | NO_INDEX | {"rich"}),
        (
            ("papers",),
            NO_TURNS_OR_HISTORY | {"pydantic_settings", "chromadb", "tokenizers", "safetensors"},
        ),
        (
            ("search", "jailbreak", "--mode", "lexical"),
            NO_TURNS_OR_HISTORY | {"chromadb", "rich", "assistant.text"} | LONG_LIVED,
        ),
        # Dense search maps the converted weights: safetensors is not read.
        (("search", "multi-turn jailbreak"), NO_TURNS_OR_HISTORY | {"safetensors"} | LONG_LIVED),
        (("check",), NO_TURNS_OR_HISTORY | {"tokenizers", "safetensors"}),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else "",
)
def test_command_skips_what_it_does_not_use(
    home: Path, args: tuple[str, ...], forbidden: set[str]
) -> None:
    assert loaded(imported(home, *args), forbidden) == set()


def test_offline_ask_imports_no_endpoint_client_or_ui(home: Path) -> None:
    modules = imported(home, "ask", "What is multi-turn jailbreaking?")
    assert "assistant.orchestrator" in modules  # the whole API: it asks a model
    assert loaded(modules, {"textual", "openai"} | LONG_LIVED) == set()


@pytest.mark.parametrize("args", [("papers",), ("history",), ("search", "jailbreak")])
def test_a_configured_endpoint_is_not_loaded_without_a_question(
    home: Path, args: tuple[str, ...]
) -> None:
    # An unreachable endpoint: nothing may even try to connect.
    modules = imported(home, *args, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL="http://127.0.0.1:9")
    assert loaded(modules, {"openai", "assistant.chat"}) == set()
