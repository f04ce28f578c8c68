"""Values derived from the whole collection, kept per index revision.

The offline model's collection-wide term weights and the table of paper names are built from
every record. In a long-lived process (the chat) one build per revision is enough; a one-shot
`ra ask` is a new process each time, so the value is also saved as JSON under
`RA_HOME/cache/assistant/`, named by the index's content revision, and read back instead of
being rebuilt from every record (which grows with the library).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RevisionCache(Generic[T]):
    """One value per index revision: in memory, and on disk when a folder is given."""

    def __init__(self, kind: str, encode: Callable[[T], Any], decode: Callable[[Any], T]) -> None:
        self.kind = kind
        self._encode = encode
        self._decode = decode
        self._lock = threading.Lock()
        self._token: str | None = None
        self._value: T | None = None

    def get(
        self,
        token: str,
        build: Callable[[], T],
        *,
        folder: Path | None = None,
        revision: Callable[[], str | None] | None = None,
    ) -> T:
        """The value for `token` (changes whenever the index does): from memory, else from
        `folder` under the content `revision()`, else `build()` (then saved there)."""
        with self._lock:
            if self._value is not None and token == self._token:
                return self._value
            rev = revision() if revision is not None and folder is not None else None
            path = folder / f"{self.kind}-{rev}.json" if folder is not None and rev else None
            value = self._load(path) if path is not None else None
            if value is None:
                value = build()
                if path is not None:
                    self._save(path, value)
            self._token, self._value = token, value
            return value

    def _load(self, path: Path) -> T | None:
        try:
            return self._decode(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # missing or damaged: rebuilt and saved again

    def _save(self, path: Path, value: T) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._encode(value)), encoding="utf-8")
            os.replace(tmp, path)
            for old in path.parent.glob(f"{self.kind}-*.json"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only home still answers; it only rebuilds next time
