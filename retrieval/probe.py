"""A cheap look at the embedded store without opening Chroma: is the database file sane,
and what revision and chunk count does it hold? (stdlib sqlite3, read-only, milliseconds.)

Used on every open to compare the store with the manifest. It reads Chroma's own tables
(`collections`, `collection_metadata`, `segments`, `embeddings`); if a future Chroma changes
them, the probe says "unknown" and the caller falls back to asking Chroma.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
DB_NAME = "chroma.sqlite3"


@dataclass(frozen=True)
class StoreProbe:
    """What the probe found: `problem` is a one-line description of damage, else None."""

    exists: bool
    problem: str | None = None
    revision: str | None = None
    chunks: int | None = None
    # False when the schema was not what the probe knows (then revision/chunks are None).
    known_schema: bool = True


def _file_problem(db: Path) -> str | None:
    size = db.stat().st_size
    if size == 0:
        return f"{db.name} is empty (0 bytes)"
    with open(db, "rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return f"{db.name} is not a SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if pages and size < pages * page_size:
        return f"{db.name} is truncated ({size:,} of {pages * page_size:,} bytes)"
    return None


def probe_store(chroma_path: Path, collection: str) -> StoreProbe:
    """Inspect `chroma_path/chroma.sqlite3` for `collection`; never raises."""
    db = chroma_path / DB_NAME
    if not db.is_file():
        return StoreProbe(exists=False)
    try:
        problem = _file_problem(db)
    except OSError as exc:
        return StoreProbe(exists=True, problem=f"{db.name} cannot be read ({exc.strerror})")
    if problem:
        return StoreProbe(exists=True, problem=problem)
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return StoreProbe(exists=True, problem=f"{db.name} cannot be opened ({exc})")
    try:
        row = conn.execute("SELECT id FROM collections WHERE name = ?", (collection,)).fetchone()
        if row is None:
            return StoreProbe(exists=True, revision=None, chunks=0)
        cid = row[0]
        rev = conn.execute(
            "SELECT str_value FROM collection_metadata WHERE collection_id = ? AND key = ?",
            (cid, "revision"),
        ).fetchone()
        count = conn.execute(
            "SELECT COUNT(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
            "WHERE s.collection = ? AND s.scope = 'METADATA'",
            (cid,),
        ).fetchone()
        return StoreProbe(
            exists=True, revision=rev[0] if rev else None, chunks=int(count[0]) if count else 0
        )
    except sqlite3.OperationalError as exc:
        if any(m in str(exc) for m in ("no such table", "no such column", "locked", "busy")):
            return StoreProbe(exists=True, known_schema=False)
        return StoreProbe(exists=True, problem=f"{db.name} cannot be read ({exc})")
    except sqlite3.DatabaseError as exc:
        return StoreProbe(exists=True, problem=f"{db.name} cannot be read ({exc})")
    finally:
        conn.close()
