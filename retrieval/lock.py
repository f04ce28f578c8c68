"""One writer at a time: a file lock on RA_HOME (the `filelock` package).

Ingest holds the writer lock for its whole run; a second writer waits for it and is told
so once through a `notice` callback. Readers never take it: they read the last complete
state the manifest names. A second, short lock serializes the creation of the embedded
Chroma database, which two processes cannot do at once ("table collections already exists").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

Notice = Callable[[str], None]

WRITER_LOCK = ".ra-ingest.lock"
OPEN_LOCK = ".ra-chroma-open.lock"


def writer_lock_path(home: Path) -> Path:
    """The lock file an ingest holds."""
    return home / WRITER_LOCK


@contextmanager
def writer_lock(home: Path, notice: Notice | None = None) -> Iterator[None]:
    """Hold the writer lock on `home`; wait (saying so once) while another process holds it."""
    from filelock import FileLock, Timeout

    home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(writer_lock_path(home)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if notice:
            notice(
                f"another ingest is writing to {home}; waiting for it to finish "
                "(Ctrl-C to stop waiting)"
            )
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def writer_busy(home: Path) -> bool:
    """True while some process (this one included) holds the writer lock on `home`."""
    path = writer_lock_path(home)
    if not path.exists():
        return False
    from filelock import FileLock, Timeout

    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


@contextmanager
def open_lock(home: Path) -> Iterator[None]:
    """Serialize opening (and so creating) the embedded Chroma database under `home`."""
    from filelock import FileLock

    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / OPEN_LOCK)):
        yield
