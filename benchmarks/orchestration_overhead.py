"""Orchestration overhead per turn: everything but the model's own time.

For each turn: wall time of `Assistant.ask` (history writes, retrieval, prompt packing,
streaming plumbing, citation checks) minus the time spent inside the chat model's stream
(`timings_ms["model"]`). Run with the offline model and with the local OpenAI-compatible
test server (tests/openai_server.py); prints p50/p95 over N turns (default 100).

Wall time depends on how busy the machine is, so the same overhead is also given as CPU
time (process CPU during the turn minus the CPU spent inside the model's stream).

    python benchmarks/orchestration_overhead.py [--home DIR] [--turns 100] [--json]

Without --home it uses RA_HOME if set, else a temporary home (indexing the seeds first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.chat.base import ChatMessage, ChatModel, StreamEvent
from assistant.config import load_settings
from assistant.history import HistoryStore
from assistant.orchestrator import Assistant
from tests.openai_server import OpenAIServer

QUESTIONS = [
    "Which papers study multi-turn jailbreaks?",
    "How many languages does PolyGuard cover?",
    "Which work trains a conversation model called COSMO?",
    "How does AlphaFold predict protein structure?",
    "Which works release safety moderation classifiers for LLM prompts and responses?",
    "What work exists on pluralistic alignment?",
    "Which papers analyse subgradient methods for nonsmooth optimization problems?",
    "How much does WildGuard reduce the success rate of jailbreak attacks?",
    "Which papers study how well LLMs know or represent different cultures?",
    "What improvement does ODESteer report on TruthfulQA?",
]
WARMUP = 3


class CpuTimed:
    """A ChatModel wrapper that adds up the process CPU time spent inside its stream."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.name = model.name
        self.context_window = model.context_window
        self.cpu = 0.0

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]:
        events = self.model.stream(messages, max_tokens=max_tokens, cancel=cancel)
        while True:
            started = time.process_time()
            try:
                event = next(events)
            except StopIteration:
                return
            finally:
                self.cpu += time.process_time() - started
            yield event


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(assistant: Assistant, turns: int) -> dict[str, Any]:
    """Ask `turns` questions (after a warm-up); per-turn overhead figures in ms."""
    timed = CpuTimed(assistant.model)
    assistant._model = timed  # measure the CPU spent inside the model
    for question in QUESTIONS[:WARMUP]:
        assistant.ask(question)
    overhead: list[float] = []
    no_retrieval: list[float] = []
    cpu: list[float] = []
    stages: dict[str, list[float]] = {"retrieve": [], "prompt": [], "model": []}
    for i in range(turns):
        timed.cpu = 0.0
        cpu_started = time.process_time()
        started = time.perf_counter()
        answer = assistant.ask(QUESTIONS[i % len(QUESTIONS)])
        wall = (time.perf_counter() - started) * 1000
        cpu.append((time.process_time() - cpu_started - timed.cpu) * 1000)
        model = answer.timings_ms.get("model", 0.0)
        overhead.append(wall - model)
        no_retrieval.append(wall - model - answer.timings_ms.get("retrieve", 0.0))
        for name in stages:
            stages[name].append(answer.timings_ms.get(name, 0.0))
    return {
        "turns": turns,
        "overhead_p50": statistics.median(overhead),
        "overhead_p95": percentile(overhead, 95),
        "without_retrieval_p50": statistics.median(no_retrieval),
        "without_retrieval_p95": percentile(no_retrieval, 95),
        "cpu_p50": statistics.median(cpu),
        "cpu_p95": percentile(cpu, 95),
        **{f"{name}_p50": statistics.median(v) for name, v in stages.items()},
    }


def answer_from_server(body: dict[str, Any]) -> str:
    return "The first source covers this [1]. The second adds detail [2]."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="an RA_HOME with the seeds indexed")
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    home = Path(args.home or os.environ.get("RA_HOME") or tempfile.mkdtemp(prefix="ra-bench-"))
    scratch = Path(tempfile.mkdtemp(prefix="ra-bench-history-"))
    settings = load_settings(home=home, model="offline")
    offline = Assistant(settings, history=HistoryStore(scratch / "offline.sqlite"))
    if offline.ensure_index() is not None:
        print(f"indexed the seeds in {home}", file=sys.stderr)

    results = {"offline": run(offline, args.turns)}
    with OpenAIServer(default=answer_from_server) as server:
        remote_settings = settings.model_copy(
            update={"model": "bench-model", "openai_base_url": server.base_url}
        )
        remote = Assistant(
            remote_settings, index=offline.index, history=HistoryStore(scratch / "server.sqlite")
        )
        results["local-server"] = run(remote, args.turns)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Orchestration overhead per turn (ms), {args.turns} turns, model time excluded"
        f" (load average {load:.1f} on {os.cpu_count()} CPUs)"
    )
    print(
        f"{'model':<14}{'p50':>8}{'p95':>8}{'cpu p50':>9}{'cpu p95':>9}"
        f"{'w/o retrieval p50':>19}{'retrieve p50':>14}{'prompt p50':>12}{'model p50':>11}"
    )
    for name, r in results.items():
        print(
            f"{name:<14}{r['overhead_p50']:>8.1f}{r['overhead_p95']:>8.1f}"
            f"{r['cpu_p50']:>9.1f}{r['cpu_p95']:>9.1f}"
            f"{r['without_retrieval_p50']:>19.1f}{r['retrieve_p50']:>14.1f}"
            f"{r['prompt_p50']:>12.1f}{r['model_p50']:>11.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
