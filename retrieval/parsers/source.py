"""Reading an input file in bounded memory: checked once up front, then read line by line."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from retrieval.parsers.errors import SourceFileError

_CHUNK = 1 << 18  # 256 KiB: what the check holds at once
# What format detection reads at most: lines, and characters.
HEAD_LINES = 2000
HEAD_CHARS = 1 << 18


def check_file(path: Path) -> None:
    """SourceFileError unless `path` is a readable, non-empty UTF-8 text file.

    One pass in 256 KiB chunks (NUL bytes, UTF-8 validity, anything but whitespace), so a
    bad file fails before any record is produced and nothing is kept in memory.
    """
    if path.is_dir():
        raise SourceFileError(path, "is a directory, not a file")
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise SourceFileError(path, "no such file") from None
    except PermissionError:
        raise SourceFileError(path, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise SourceFileError(path, f"cannot read the file: {exc.strerror or exc}") from None
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, size, blank = 0, 0, True
    with handle:
        while True:
            try:
                data = handle.read(_CHUNK)
            except OSError as exc:
                reason = f"cannot read the file: {exc.strerror or exc}"
                raise SourceFileError(path, reason) from None
            final = not data
            if b"\x00" in data:
                raise SourceFileError(path, "binary file (contains NUL bytes), not text")
            pending = decoder.getstate()[0]  # bytes of a character cut by the last chunk
            try:
                text = decoder.decode(data, final=final)
            except UnicodeDecodeError as exc:
                where = offset - len(pending) + exc.start
                byte = (pending + data)[exc.start]
                reason = f"not UTF-8 text (byte 0x{byte:02x} at offset {where}): binary file?"
                raise SourceFileError(path, reason) from None
            size += len(data)
            offset += len(data)
            if blank and text.replace("\ufeff", "").strip():
                blank = False
            if final:
                break
    if blank:
        raise SourceFileError(path, "empty file" if size == 0 else "file has only whitespace")


def iter_lines(path: Path) -> Iterator[str]:
    """The file's lines as an editor numbers them: split on `\\n` only, line ends dropped."""
    with path.open(encoding="utf-8-sig", newline="\n") as handle:
        for line in handle:
            yield line.removesuffix("\n").removesuffix("\r")


def head(path: Path, n: int = HEAD_LINES) -> list[str]:
    """The first `n` lines, at most about HEAD_CHARS characters (detection reads no more)."""
    lines: list[str] = []
    size = 0
    for line in islice(iter_lines(path), n):
        lines.append(line)
        size += len(line)
        if size >= HEAD_CHARS:
            break
    return lines


def text_lines(text: str) -> list[str]:
    """Lines of a text already in memory, numbered like `iter_lines`."""
    return [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]
