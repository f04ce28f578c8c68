"""`PaperIndex`: the retrieval layer's API (ingest, list, resolve, hybrid search)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from retrieval.chunking import chunk_paper
from retrieval.config import RetrievalConfig
from retrieval.models import Chunk, Paper, ParseIssue, SearchHit
from retrieval.resources import seed_files
from retrieval.search import SearchState, hybrid_search
from retrieval.store import ChunkStore

SearchMode = Literal["hybrid", "dense", "lexical"]
# progress(done, total): chunks written so far out of those to write.
Progress = Callable[[int, int], None]


class FileReport(BaseModel):
    """What one input file gave."""

    path: str
    records: int = 0
    issues: int = 0
    error: str | None = None


class IngestReport(BaseModel):
    """The outcome of an ingest: counts, per-file results and every problem found."""

    files: list[FileReport] = Field(default_factory=list)
    issues: list[ParseIssue] = Field(default_factory=list)
    papers: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_written: int = 0
    seconds: float = 0.0
    nothing_changed: bool = False

    @property
    def skipped_records(self) -> int:
        """Records reported as malformed and left out."""
        return len(self.issues)

    @property
    def file_errors(self) -> list[str]:
        """Files that could not be read at all."""
        return [f"{f.path}: {f.error}" for f in self.files if f.error]

    @property
    def ok(self) -> bool:
        """True when every file and record was ingested."""
        return not self.issues and not self.file_errors


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _chunk_metadata(paper: Paper, chunk: Chunk, chunk_hash: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "paper_id": paper.paper_id,
        "chunk_index": chunk.index,
        "hash": chunk_hash,
        "title": paper.title,
    }
    if paper.year is not None:
        meta["year"] = paper.year
    if chunk.index == 0:
        meta["paper"] = paper.model_dump_json()
    return meta


class PaperIndex:
    """Papers in, hybrid search out. Cheap to construct; opens Chroma on first need."""

    def __init__(self, config: RetrievalConfig) -> None:
        self.config = config
        self.store = ChunkStore(config)
        self._state: SearchState | None = None
        self._state_revision: str | None = None
        self._state_lock = threading.Lock()

    # ----- manifest: what was ingested, so an unchanged re-ingest is a no-op -----

    @property
    def _manifest_path(self) -> Path:
        return self.config.home / f"manifest-{self.config.collection}.json"

    def _read_manifest(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._manifest_path.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        self.config.home.mkdir(parents=True, exist_ok=True)
        tmp = self._manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        tmp.replace(self._manifest_path)

    def _build_signature(self) -> dict[str, Any]:
        return {
            "embedding_model": self.store.model_id,
            "chunk_tokens": self.config.chunk_tokens,
            "chunk_overlap": self.config.chunk_overlap,
        }

    # ----- ingest -----

    def ingest(
        self,
        paths: Sequence[Path] | None = None,
        *,
        progress: Progress | None = None,
        reindex: bool = False,
    ) -> IngestReport:
        """Parse, merge, chunk and store the given files (default: the shipped seeds).

        Files ingested before stay in the index and are merged with the new ones; files
        whose content is unchanged are not re-embedded, and when nothing changed at all
        nothing is written.
        """
        from retrieval.merge import merge_papers
        from retrieval.parsers import SourceFileError, iter_source_files, parse_file

        started = time.perf_counter()
        given = iter_source_files(list(paths)) if paths else seed_files()
        manifest = {} if reindex else self._read_manifest()
        known: dict[str, str] = dict(manifest.get("files", {}))
        ordered = list(known) + [str(p.resolve()) for p in given if str(p.resolve()) not in known]

        report = IngestReport()
        contents: dict[str, bytes | None] = {}
        for name in ordered:
            try:
                contents[name] = Path(name).read_bytes()
            except OSError:
                contents[name] = None

        signature = self._build_signature()
        hashes = {n: _sha(c) for n, c in contents.items() if c is not None}
        if (
            not reindex
            and manifest.get("signature") == signature
            and hashes == known
            and all(c is not None for c in contents.values())
            and self._revision_matches(manifest.get("revision"))
        ):
            report.papers = int(manifest.get("papers", 0))
            report.unchanged = report.papers
            report.nothing_changed = True
            report.files = [FileReport(path=n, records=0) for n in ordered]
            report.seconds = time.perf_counter() - started
            return report

        parsed: list[Paper] = []
        kept_files: dict[str, str] = {}
        old_by_file: dict[str, list[Paper]] | None = None
        for name in ordered:
            display = self._display_path(name, given)
            file_report = FileReport(path=display)
            report.files.append(file_report)
            try:
                result = parse_file(Path(name))
            except SourceFileError as exc:
                file_report.error = str(exc)
                if name in known:
                    # A file ingested before and now unreadable: keep its papers.
                    if old_by_file is None:
                        old_by_file = self._papers_by_source_file()
                    parsed.extend(old_by_file.get(name, []))
                    kept_files[name] = known[name]
                continue
            file_report.records = len(result.papers)
            file_report.issues = len(result.issues)
            report.issues.extend(result.issues)
            parsed.extend(result.papers)
            kept_files[name] = hashes[name]

        papers = merge_papers(parsed)
        self._write(papers, report, progress, reindex=reindex)
        self._write_manifest(
            {
                "files": kept_files,
                "signature": signature,
                "revision": self._last_revision,
                "papers": len(papers),
            }
        )
        report.seconds = time.perf_counter() - started
        return report

    def ingest_papers(
        self, papers: Sequence[Paper], *, progress: Progress | None = None
    ) -> IngestReport:
        """Store already-parsed records as they are (the collection holds only these)."""
        started = time.perf_counter()
        report = IngestReport()
        self._write(list(papers), report, progress, reindex=False)
        report.seconds = time.perf_counter() - started
        return report

    @staticmethod
    def _display_path(resolved: str, given: Sequence[Path]) -> str:
        for p in given:
            if str(p.resolve()) == resolved:
                return str(p)
        return resolved

    def _revision_matches(self, revision: str | None) -> bool:
        if not revision:
            return False
        if not self.config.chroma_url and self.config.chroma_path.is_dir():
            # Embedded store: the manifest is written after the store, so it is trusted
            # without paying for opening Chroma.
            return True
        return self.store.revision() == revision

    def _papers_by_source_file(self) -> dict[str, list[Paper]]:
        by_file: dict[str, list[Paper]] = {}
        for paper in self.papers():
            for name in {str(Path(s.file).resolve()) for s in paper.sources}:
                by_file.setdefault(name, []).append(paper)
        return by_file

    _last_revision: str = ""

    def _write(
        self,
        papers: list[Paper],
        report: IngestReport,
        progress: Progress | None,
        *,
        reindex: bool,
    ) -> None:
        if reindex:
            self.store.reset()
        desired: dict[str, tuple[str, str, dict[str, Any]]] = {}
        chunk_papers: dict[str, str] = {}
        for paper in papers:
            paper_hash = paper.content_hash()
            for chunk in chunk_paper(paper, self.config.chunk_tokens, self.config.chunk_overlap):
                chunk_hash = _sha(f"{paper_hash}\n{chunk.text}".encode())[:16]
                desired[chunk.chunk_id] = (
                    chunk_hash,
                    chunk.text,
                    _chunk_metadata(paper, chunk, chunk_hash),
                )
                chunk_papers[chunk.chunk_id] = paper.paper_id

        existing: dict[str, tuple[str, str]] = {
            cid: (str(meta.get("hash", "")), str(meta.get("paper_id", "")))
            for cid, _, meta in self.store.iter_chunks(include_documents=False)
        }
        to_write = [cid for cid, (h, _, _) in desired.items() if existing.get(cid, ("",))[0] != h]
        to_delete = [cid for cid in existing if cid not in desired]

        old_papers = {pid for _, pid in existing.values()}
        changed_papers = {chunk_papers[cid] for cid in to_write}
        changed_papers |= {
            existing[cid][1] for cid in to_delete if existing[cid][1] in chunk_papers.values()
        }
        new_ids = {p.paper_id for p in papers}
        report.papers = len(papers)
        report.added = len(new_ids - old_papers)
        report.updated = len((changed_papers & old_papers) & new_ids)
        report.removed = len(old_papers - new_ids)
        report.unchanged = report.papers - report.added - report.updated

        total = len(to_write)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        if progress:
            progress(0, total)
        if to_delete:
            self.store.delete(to_delete)
        if to_write:
            self.store.upsert(
                to_write,
                [desired[c][1] for c in to_write],
                [desired[c][2] for c in to_write],
                progress=tick,
            )
        report.chunks_written = total
        state_lines = "\n".join(f"{cid} {desired[cid][0]}" for cid in sorted(desired))
        revision = _sha(state_lines.encode())[:16]
        if to_write or to_delete or self.store.revision() != revision:
            self.store.set_revision(revision)
        self._last_revision = revision
        self._state = None

    # ----- reading -----

    def _search_state(self) -> SearchState:
        revision = self._current_revision()
        with self._state_lock:
            if self._state is None or self._state_revision != revision:
                self._state = SearchState.load_or_build(self.store, self.config, revision)
                self._state_revision = revision
            return self._state

    def _current_revision(self) -> str | None:
        if not self.config.chroma_url:
            manifest_rev = self._read_manifest().get("revision")
            if manifest_rev:
                return str(manifest_rev)
        return self.store.revision()

    def papers(self) -> list[Paper]:
        """Every paper in the index, in ingest order."""
        return list(self._search_state().papers.values())

    def get(self, paper_id: str) -> Paper | None:
        """A paper by its id."""
        return self._search_state().papers.get(paper_id)

    def count(self) -> int:
        """Number of papers."""
        return len(self._search_state().papers)

    def resolve(self, ref: str) -> list[Paper]:
        """Papers matching a reference: paper id, arXiv id, or a title fragment (best first)."""
        from retrieval.resolve import resolve_reference

        return resolve_reference(ref, self.papers())

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """Papers for `query`, best first, one hit per paper (see `retrieval.search`)."""
        return hybrid_search(
            self._search_state(),
            self.store,
            query,
            k=k,
            year_from=year_from,
            year_to=year_to,
            author=author,
            mode=mode,
        )

    # ----- change detection for long-lived readers (the chat UI) -----

    def change_token(self) -> str:
        """Changes whenever an ingest (in any process) rewrote the index, a re-index of the
        same content included: the manifest's stat (one syscall), plus the collection's
        revision for a Chroma server that other homes may write to."""
        try:
            stat = self._manifest_path.stat()
            token = f"{stat.st_mtime_ns}:{stat.st_size}"
        except OSError:
            token = "none"
        if self.config.chroma_url:
            token += f":{self.store.revision()}"
        return token

    def reopened(self) -> PaperIndex:
        """A fresh index over the same store, re-read from disk (after another process wrote
        it: a plain ingest, or a re-index that replaced the collection)."""
        from retrieval.store import refresh_embedded_client

        refresh_embedded_client(self.config)
        return PaperIndex(self.config)
