"""Shared helpers for the benchmark scripts: temp homes, timing, percentiles, tables,
subprocess timing of the `ra` CLI and a deterministic synthetic-abstract generator.

Nothing here asserts: the scripts print figures, and the README records them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from retrieval.config import RetrievalConfig
    from retrieval.models import Paper

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first, not the repo
    sys.path.insert(0, str(REPO))

DATASET = REPO / "evals" / "datasets" / "retrieval_paraphrases.jsonl"
T = TypeVar("T")


# ----- homes and configuration -------------------------------------------------------------


@contextlib.contextmanager
def temp_home(prefix: str = "ra-bench-") -> Iterator[Path]:
    """A fresh RA_HOME directory, removed afterwards (set RA_BENCH_KEEP=1 to keep it)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if os.environ.get("RA_BENCH_KEEP"):
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def retrieval_config(home: Path, collection: str | None = None) -> RetrievalConfig:
    """The app's retrieval config for `home` (embedded Chroma), optionally another collection."""
    from assistant.config import load_settings

    config = load_settings(home=home, chroma_url=None).retrieval()
    if collection:
        config = config.model_copy(update={"collection": collection})
    return config


def cli_env(home: Path) -> dict[str, str]:
    """Environment for a `ra` subprocess: this home, embedded store, offline, no user config."""
    env = dict(os.environ)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RA_MODEL", "RA_CHROMA_URL"):
        env.pop(var, None)
    env["RA_HOME"] = str(home)
    env["RA_CONFIG"] = os.devnull
    env["RA_MODEL"] = "offline"
    return env


def ra_command() -> list[str]:
    """The `ra` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "ra"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "shells.cli"]


# ----- timing ------------------------------------------------------------------------------


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run `fn` once; (its result, wall seconds)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


@dataclass
class Stopwatch:
    """Wall and CPU seconds of a `with` block (CPU: this process, all its threads).

    CPU time is reported next to wall time because the benchmark machine may be shared:
    wall time grows with other load, CPU time much less.
    """

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0


@dataclass
class CliRun:
    """One timed `ra` subprocess: wall seconds, CPU seconds (user + system) and output."""

    seconds: float
    cpu: float
    returncode: int
    stdout: str
    stderr: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(args: Sequence[str], home: Path, timeout: float = 600.0) -> CliRun:
    """Run `ra ARGS` end to end (process start to exit) with `cli_env(home)`."""
    cpu0 = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        [*ra_command(), *args],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - start
    return CliRun(wall, _children_cpu() - cpu0, proc.returncode, proc.stdout, proc.stderr)


def run_cli_rss(args: Sequence[str], home: Path, timeout: float = 600.0) -> tuple[CliRun, int]:
    """`run_cli`, plus the peak RSS of that one process in bytes (Linux `wait4`)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([*ra_command(), *args], env=cli_env(home), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        run = CliRun(
            wall, usage.ru_utime + usage.ru_stime, proc.returncode,
            out.read().decode(errors="replace"), err.read().decode(errors="replace"),
        )  # fmt: skip
    return run, usage.ru_maxrss * 1024


def machine_line(label: str) -> str:
    """A header line: what runs, CPUs and the current load (the machine may be shared)."""
    one, five, _ = os.getloadavg()
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    return (
        f"{label}: {os.cpu_count()} CPUs, load average {one:.1f} (1 min) / {five:.1f} (5 min), "
        f"OPENBLAS_NUM_THREADS={blas}"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean / max in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "mean": sum(ms) / len(ms) if ms else float("nan"),
        "max": max(ms) if ms else float("nan"),
    }


def verdict(value: float, target: float) -> str:
    """'met' when value < target, else 'MISSED'."""
    return "met" if value < target else "MISSED"


# ----- output ------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """Numbers to short strings; everything else via str()."""
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    """A plain-text table (Markdown-compatible, so it can be pasted into the README)."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    if title:
        print(f"\n## {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def note(text: str) -> None:
    """A line of commentary under a table."""
    print(text)
    sys.stdout.flush()


# ----- queries -----------------------------------------------------------------------------


def load_paraphrases(path: Path = DATASET) -> list[dict[str, Any]]:
    """The paraphrased seed questions: dicts with id, query, gold."""
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ----- synthetic corpus --------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_FIRST = ("Alex", "Sam", "Priya", "Wei", "Lena", "Omar", "Ines", "Kenji", "Maya", "Tomas", "Aisha")
_LAST = ("Kim", "Chen", "Garcia", "Novak", "Okafor", "Sato", "Rossi", "Muller", "Silva", "Patel")


@lru_cache(maxsize=1)
def _seed_sentences() -> tuple[tuple[str, ...], ...]:
    """Word sequences of the seed abstracts' sentences (read from the shipped seed files)."""
    from retrieval.resources import seed_files

    sentences: list[tuple[str, ...]] = []
    for path in seed_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            # Abstract lines are long prose; headers, author lines and ids are short.
            if len(line) < 200:
                continue
            for sentence in _SENTENCE.split(line):
                words = tuple(_WORD.findall(sentence))
                if len(words) >= 5:
                    sentences.append(words)
    return tuple(sentences)


class SyntheticCorpus:
    """Deterministic random abstracts built from a bigram chain over the seed abstracts' words.

    The text is not meaningful, but its vocabulary, word frequencies and local word order
    are those of the seeds, so BM25 sees a realistic term distribution and the embedding
    model sees real word pieces in plausible contexts (not random strings).
    """

    def __init__(self, seed: int = 1234) -> None:
        self.seed = seed
        sentences = _seed_sentences()
        if not sentences:
            raise RuntimeError("no seed abstracts found to draw a vocabulary from")
        following: dict[str, list[str]] = defaultdict(list)
        starts: list[str] = []
        counts: Counter[str] = Counter()
        for words in sentences:
            starts.append(words[0])
            counts.update(w.lower() for w in words)
            for a, b in itertools.pairwise(words):
                following[a].append(b)
        self._following = dict(following)
        self._starts = starts
        self._vocab = [w for w, _ in counts.most_common() if len(w) > 3]
        self.vocabulary_size = len(counts)

    def _sentence(self, rng: random.Random, min_words: int, max_words: int) -> str:
        length = rng.randint(min_words, max_words)
        word = rng.choice(self._starts)
        words = [word]
        while len(words) < length:
            nxt = self._following.get(word)
            word = rng.choice(nxt) if nxt else rng.choice(self._starts)
            words.append(word)
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."

    def abstract(self, rng: random.Random, sentences: tuple[int, int] = (4, 5)) -> str:
        """An abstract of `sentences` (min, max) sentences of 12-22 words each."""
        n = rng.randint(*sentences)
        return " ".join(self._sentence(rng, 12, 22) for _ in range(n))

    def title(self, rng: random.Random) -> str:
        """A 5-9 word title."""
        return self._sentence(rng, 5, 9).rstrip(".").title()

    def papers(self, n: int, *, sentences: tuple[int, int] = (4, 5)) -> list[Paper]:
        """`n` synthetic papers with ids `syn-000000`...; same `seed` -> same papers."""
        return list(self.iter_papers(n, sentences=sentences))

    def iter_papers(
        self, n: int, *, sentences: tuple[int, int] = (4, 5), prefix: str = "syn"
    ) -> Iterator[Paper]:
        """The papers of `papers(n)` one at a time (ids `{prefix}-000000`...), for streaming."""
        from retrieval.models import Paper, SourceRef

        rng = random.Random(self.seed)
        for i in range(n):
            authors = [
                f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(rng.randint(1, 4))
            ]
            year = rng.randint(2015, 2025)
            yield Paper(
                paper_id=f"{prefix}-{i:06d}",
                title=self.title(rng),
                authors=authors,
                year=year,
                date=str(year),
                abstract=self.abstract(rng, sentences),
                sources=[SourceRef(file=prefix, line=i + 1, format="synthetic")],
            )

    def queries(self, n: int, seed: int | None = None) -> list[str]:
        """`n` distinct short keyword queries (2-6 words) drawn from the vocabulary."""
        rng = random.Random(self.seed + 1 if seed is None else seed)
        top = self._vocab[:3000]
        seen: set[str] = set()
        out: list[str] = []
        while len(out) < n:
            query = " ".join(rng.sample(top, rng.randint(2, 6)))
            if query not in seen:
                seen.add(query)
                out.append(query)
        return out


def seed_queries(n: int = 200) -> list[str]:
    """`n` distinct queries for the seeds: the paraphrased questions, then keyword queries."""
    queries = [item["query"] for item in load_paraphrases()]
    extra = SyntheticCorpus(seed=99).queries(max(0, n - len(queries)) + 50)
    for q in extra:
        if len(queries) >= n:
            break
        if q not in queries:
            queries.append(q)
    return queries[:n]


def unit_vectors(n: int, dim: int, seed: int = 0) -> Any:
    """`n` random unit vectors (float32, shape (n, dim)), deterministic."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors
