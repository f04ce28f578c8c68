"""The manifest: what the index holds and whether the last ingest finished (its journal).

One small JSON file per collection under RA_HOME, always replaced atomically (write a temp
file, fsync, rename), so a reader sees either the old or the new manifest, never half of one.
An ingest writes it twice: at the start with `complete=False` (the journal entry: when, which
process, how far), and at the end with the new revision and `complete=True`. `revision` is
always the last *complete* revision, the one readers serve while an ingest runs or after one
was interrupted.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError


class Journal(BaseModel):
    """The record of the last ingest that started."""

    started_at: str
    finished_at: str | None = None
    pid: int = 0
    to_write: int = 0
    written: int = 0
    deleted: int = 0


class Manifest(BaseModel):
    """What was ingested: source files with hashes, build settings, the revision, counts."""

    files: dict[str, str] = Field(default_factory=dict)
    signature: dict[str, Any] = Field(default_factory=dict)
    revision: str | None = None
    papers: int = 0
    # None in manifests written before chunk counts were recorded.
    chunks: int | None = None
    complete: bool = True
    ingest: Journal | None = None


def now_iso() -> str:
    """The current UTC time, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class ManifestFile:
    """Reads and atomically replaces one manifest file.

    A read whose file is unchanged since the last one (same inode, size and mtime: every
    write is a rename, so a new inode) returns the parsed copy without reading; `reads`
    counts the real reads (see tests).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0
        self._cached: tuple[tuple[int, int, int], Manifest | None] | None = None

    def exists(self) -> bool:
        """True when a manifest file is there (readable or not)."""
        return self.path.is_file()

    def read(self) -> Manifest | None:
        """The manifest, or None when there is none or it cannot be read."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._cached is not None and self._cached[0] == key:
            cached = self._cached[1]
            return cached.model_copy(deep=True) if cached is not None else None
        self.reads += 1
        try:
            manifest: Manifest | None = Manifest.model_validate(json.loads(self.path.read_bytes()))
        except (OSError, ValueError, ValidationError):
            manifest = None
        self._cached = (key, manifest)
        return manifest.model_copy(deep=True) if manifest is not None else None

    def write(self, manifest: Manifest) -> None:
        """Replace the manifest atomically and durably."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps(manifest.model_dump(mode="json"), indent=1, sort_keys=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
