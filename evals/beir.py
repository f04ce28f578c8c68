"""BEIR-format retrieval benchmark: index a corpus in its own collection, score three modes.

A BEIR folder holds `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`)
and `qrels/test.tsv` (`query-id`, `corpus-id`, `score`, with a header line). Every document is
stored as a `Paper` whose `paper_id` is the BEIR `_id`, through `PaperIndex.ingest_papers`, so
the benchmark measures the same retrieval layer the assistant uses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from evals.dataset import Dataset
from evals.metrics import mean, ndcg_at_k, recall_at_k
from retrieval.config import RetrievalConfig
from retrieval.ids import slugify
from retrieval.models import Paper, SourceRef

Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
MODE_LABELS: dict[Mode, str] = {"dense": "dense", "lexical": "BM25", "hybrid": "hybrid"}
# Published nDCG@10 of known datasets (test split), printed beside the measured figures:
# BEIR paper Table 2 (BM25, Elasticsearch) and the MTEB results (all-MiniLM-L6-v2, exact
# cosine over whole documents); see ../shared/benchmarks/scifact/README.md.
PUBLISHED_NDCG10: dict[str, dict[str, float]] = {
    "scifact": {"BM25 (published, BEIR)": 0.665, "all-MiniLM-L6-v2 (published, MTEB)": 0.645},
}


class BeirError(Exception):
    """A BEIR folder that cannot be used; the message says which file and line."""


class BeirDoc(BaseModel):
    """One corpus document."""

    id: str
    title: str = ""
    text: str
    line: int


class BeirData(BaseModel):
    """A loaded BEIR dataset (one split)."""

    name: str
    root: Path
    corpus: list[BeirDoc]
    queries: dict[str, str]
    # query id -> {doc id: graded relevance}; only judgements with relevance > 0.
    qrels: dict[str, dict[str, int]]

    def evaluated_queries(self) -> list[str]:
        """Query ids with a text and at least one relevant document, sorted."""
        return sorted(q for q, rel in self.qrels.items() if rel and q in self.queries)

    def papers(self) -> list[Paper]:
        """The corpus as paper records (`paper_id` = BEIR `_id`, abstract = text)."""
        corpus_file = str(self.root / "corpus.jsonl")
        return [
            Paper(
                paper_id=doc.id,
                title=doc.title,
                abstract=doc.text,
                sources=[SourceRef(file=corpus_file, line=doc.line, format="beir")],
            )
            for doc in self.corpus
        ]


def _read_jsonl(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, object]]]:
    if not path.is_file():
        raise BeirError(
            f"{path}: missing (a BEIR folder needs corpus.jsonl, queries.jsonl, qrels/)"
        )
    rows: list[tuple[int, dict[str, object]]] = []
    with path.open(encoding="utf-8") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise BeirError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
            if not isinstance(data, dict):
                raise BeirError(f"{path}:{lineno}: expected a JSON object")
            for key in required:
                if key not in data:
                    raise BeirError(f'{path}:{lineno}: missing field "{key}"')
            rows.append((lineno, data))
    return rows


def load_beir(root: Path | str, split: str = "test") -> BeirData:
    """Load a BEIR folder; `BeirError` with `file:line: reason` when something is wrong."""
    base = Path(root)
    if not base.is_dir():
        raise BeirError(f"{base}: no such directory")
    corpus = [
        BeirDoc(
            id=str(d["_id"]),
            title=str(d.get("title") or ""),
            text=str(d.get("text") or ""),
            line=n,
        )
        for n, d in _read_jsonl(base / "corpus.jsonl", ["_id"])
    ]
    queries = {
        str(d["_id"]): str(d["text"])
        for _, d in _read_jsonl(base / "queries.jsonl", ["_id", "text"])
    }
    qrels_file = base / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        raise BeirError(f"{qrels_file}: missing")
    qrels: dict[str, dict[str, int]] = {}
    for lineno, raw in enumerate(qrels_file.read_text(encoding="utf-8").splitlines(), start=1):
        cols = raw.split("\t") if "\t" in raw else raw.split()
        if not raw.strip():
            continue
        if len(cols) < 3:
            raise BeirError(f"{qrels_file}:{lineno}: expected query-id, corpus-id, score")
        try:
            score = int(float(cols[-1]))
        except ValueError:
            if lineno == 1:
                continue  # the header line
            raise BeirError(f"{qrels_file}:{lineno}: score {cols[-1]!r} is not a number") from None
        if score > 0:
            qrels.setdefault(cols[0], {})[cols[1]] = score
    if not corpus:
        raise BeirError(f"{base / 'corpus.jsonl'}: empty corpus")
    return BeirData(name=base.name, root=base, corpus=corpus, queries=queries, qrels=qrels)


class ModeScores(BaseModel):
    """Mean scores of one retrieval mode over the evaluated queries."""

    ndcg_at_10: float
    recall_at_100: float
    query_ms_mean: float


class BeirReport(BaseModel):
    """The benchmark outcome, one entry per retrieval mode."""

    dataset: str
    documents: int
    queries: int
    collection: str
    modes: dict[str, ModeScores]
    bm25_published: float | None = None
    index_seconds: float = 0.0
    chunks: int = 0
    # /proc/loadavg's 1-minute figure before and after indexing ("" where there is none)
    load_before: str = ""
    load_after: str = ""
    per_query: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)


def beir_collection(name: str) -> str:
    """The Chroma collection for a BEIR dataset: `beir-<slug of its folder name>`."""
    return f"beir-{slugify(name, max_len=40) or 'dataset'}"


def _load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text(encoding="ascii").split()[0]
    except (OSError, IndexError):
        return ""


def run_beir(
    data: BeirData,
    config: RetrievalConfig,
    *,
    bm25_published: float | None = None,
    modes: Sequence[Mode] = MODES,
    progress: Callable[[str], None] | None = None,
) -> BeirReport:
    """Index `data` in its own collection and score each mode (nDCG@10, recall@100)."""
    from retrieval.index import PaperIndex

    collection = beir_collection(data.name)
    index = PaperIndex(config.model_copy(update={"collection": collection}))
    say = progress or (lambda _msg: None)
    say(f"indexing {len(data.corpus)} documents into collection {collection!r}")
    load_before = _load_average()
    started = time.perf_counter()
    said = 0

    def indexing(done: int, total: int) -> None:
        nonlocal said
        if done >= said + 1000 or (done == total and done > said):
            said = done
            rate = done / max(1e-9, time.perf_counter() - started)
            say(f"embedded {done}/{total} chunks ({rate:.0f} chunks/s)")

    ingest = index.ingest_papers(data.papers(), progress=indexing)
    index_seconds = time.perf_counter() - started
    load_after = _load_average()
    qids = data.evaluated_queries()
    modes_out: dict[str, ModeScores] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        say(f"searching {len(qids)} queries, mode {mode}")
        ndcgs: list[float] = []
        recalls: list[float] = []
        t0 = time.perf_counter()
        for qid in qids:
            hits = index.search(data.queries[qid], k=100, mode=mode)
            ranked = [h.paper_id for h in hits]
            rel = data.qrels[qid]
            ndcg = ndcg_at_k(ranked, {d: float(g) for d, g in rel.items()}, 10)
            rec = recall_at_k(ranked, set(rel), 100)
            ndcgs.append(ndcg)
            recalls.append(rec)
            per_query.setdefault(qid, {})[mode] = {"ndcg@10": ndcg, "recall@100": rec}
        elapsed = time.perf_counter() - t0
        modes_out[mode] = ModeScores(
            ndcg_at_10=mean(ndcgs) or 0.0,
            recall_at_100=mean(recalls) or 0.0,
            query_ms_mean=1000 * elapsed / max(1, len(qids)),
        )
    return BeirReport(
        dataset=data.name,
        documents=len(data.corpus),
        queries=len(qids),
        collection=collection,
        modes=modes_out,
        bm25_published=bm25_published,
        index_seconds=index_seconds,
        chunks=ingest.chunks_written,
        load_before=load_before,
        load_after=load_after,
        per_query=per_query,
    )


def format_beir_table(report: BeirReport) -> str:
    """A Markdown table: one row per mode, plus the published BM25 figure when given."""
    lines = [
        f"BEIR {report.dataset}: {report.documents} documents, {report.queries} queries "
        f"(collection {report.collection})",
    ]
    if report.chunks:
        docs_per_s = report.documents / max(1e-9, report.index_seconds)
        load = f", load average {report.load_before} -> {report.load_after}"
        lines.append(
            f"indexing: {report.index_seconds:.1f} s for {report.chunks} chunks "
            f"({docs_per_s:.1f} documents/s{load if report.load_before else ''})"
        )
    lines += [
        "",
        "| retriever | nDCG@10 | recall@100 | ms/query |",
        "|---|---:|---:|---:|",
    ]
    for mode, scores in report.modes.items():
        label = MODE_LABELS.get(mode, mode)  # type: ignore[call-overload]
        lines.append(
            f"| {label} | {scores.ndcg_at_10:.4f} | {scores.recall_at_100:.4f} "
            f"| {scores.query_ms_mean:.1f} |"
        )
    published = dict(PUBLISHED_NDCG10.get(report.dataset.lower(), {}))
    if report.bm25_published is not None:
        published = {k: v for k, v in published.items() if not k.startswith("BM25")}
        published = {"BM25 (published)": report.bm25_published, **published}
    for label, value in published.items():
        lines.append(f"| {label} | {value:.4f} | | |")
    return "\n".join(lines)


def write_beir_report(report: BeirReport, out_dir: Path) -> tuple[Path, Path]:
    """Write `beir-<dataset>.json` and `.md` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"beir-{slugify(report.dataset, max_len=40) or 'dataset'}"
    json_path = out_dir / f"{stem}.json"
    md_path = out_dir / f"{stem}.md"
    json_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    md_path.write_text(format_beir_table(report) + "\n", encoding="utf-8")
    return json_path, md_path


# --- the seed-built BEIR set ---------------------------------------------------------------

# Only questions answerable from a paper's text: no author/year metadata, no follow-ups.
SEED_QUERY_CATEGORIES = ("lookup", "multi", "fact")


def build_seed_beir(dataset: Dataset, papers: Sequence[Paper], out_dir: Path) -> None:
    """Write a BEIR-format set from the seed papers and the eval dataset's gold labels.

    corpus: every paper (`_id` = paper id, its real title or "" for a display title, the
    abstract as text); queries: the standalone answerable `ask` items of the categories in
    `SEED_QUERY_CATEGORIES`; qrels: their gold papers with relevance 1.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "qrels").mkdir(exist_ok=True)
    with (out_dir / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for paper in sorted(papers, key=lambda p: p.paper_id):
            title = "" if paper.title_is_display else paper.title
            row = {"_id": paper.paper_id, "title": title, "text": paper.abstract}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    items = [
        item
        for item in dataset.items
        if item.kind == "ask"
        and item.answerable
        and item.follow_up_of is None
        and item.category in SEED_QUERY_CATEGORIES
    ]
    with (out_dir / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps({"_id": item.id, "text": item.question}) + "\n")
    with (out_dir / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for item in items:
            for pid in item.gold:
                handle.write(f"{item.id}\t{pid}\t1\n")
