"""Peak RSS of a full ingest of a large JSONL, with PRECOMPUTED vectors (not the model).

Usage: python benchmarks/ingest_memory.py [--mb 50]

Generates the JSONL of benchmarks/parse_memory.py (about 54k records for 50 MB), then, in a
fresh subprocess per stage, measures:

- `side`: the ingest's own side alone: stream-parse into the source-record store
  (retrieval.sources), re-merge group by group (retrieval.regroup) and stream the delta's
  papers (counted, not kept);
- `whole`: `PaperIndex.ingest([file])` end to end (journal, merge, chunks, Chroma, search
  state) with random unit vectors in place of the embedding model: embedding 54k records
  for real takes about an hour; vectors do not change what the ingest keeps in memory.

Prints records, papers, seconds, peak RSS (`resource.getrusage`) and the load average.
Target (issue 8): < 600 MB peak for 50 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MB = 600


def side(path: Path, home: Path) -> dict[str, Any]:
    from retrieval.models import Paper
    from retrieval.parsers import iter_parse
    from retrieval.regroup import dirty_papers, regroup
    from retrieval.sources import SourceStore

    src = SourceStore(home / "sources.sqlite3")
    src.begin()
    records = src.add_records(str(path), 0, (r for r in iter_parse(path) if isinstance(r, Paper)))
    out = regroup(src, set())
    papers = sum(1 for _ in dirty_papers(src))
    src.commit()
    return {"records": records, "papers": papers, "merges": len(out.merges),
            "conflicts": len(out.conflicts)}  # fmt: skip


def whole(path: Path, home: Path) -> dict[str, Any]:
    import numpy as np

    from retrieval.config import RetrievalConfig
    from retrieval.index import PaperIndex

    index = PaperIndex(RetrievalConfig(home=home))
    rng = np.random.default_rng(7)

    def precomputed(docs: list[str]) -> list[Any]:
        vectors = rng.standard_normal((len(docs), 384), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return list(vectors)

    index.store.embed_documents = precomputed  # type: ignore[method-assign]
    report = index.ingest([path], reindex=False)
    return {"records": sum(f.records for f in report.files), "papers": report.papers,
            "merges": len(report.merges), "conflicts": len(report.conflicts),
            "chunks": report.chunks_written}  # fmt: skip


def stage(which: str, path: Path) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ra-ingest-mem-") as home:
        os.environ["RA_HOME"] = home
        result = (side if which == "side" else whole)(path, Path(home))
    result.update(
        stage=which,
        seconds=round(time.perf_counter() - started, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        load_average=[round(x, 2) for x in os.getloadavg()],
        vectors="precomputed (random unit vectors, no model)" if which == "whole" else "none",
    )
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--stage", choices=("side", "whole"))
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    if args.stage:
        stage(args.stage, args.file)
        return
    from benchmarks.parse_memory import generate

    with tempfile.TemporaryDirectory(prefix="ra-ingest-mem-") as tmp:
        path = Path(tmp) / "big.jsonl"
        n = generate(path, args.mb)
        size = path.stat().st_size / 1e6
        print(f"generated {size:.1f} MB, {n} records; vectors are PRECOMPUTED (random), not")
        print(f"the model; target < {TARGET_MB} MB peak RSS")
        for which in ("side", "whole"):
            cmd = [sys.executable, __file__, "--stage", which, "--file", str(path)]
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
