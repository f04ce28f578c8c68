"""Eval dataset: the item schema (pydantic) and a JSONL loader that reports `file:line: reason`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Kind = Literal["ask", "summary", "topic_summary"]


class EvalItem(BaseModel):
    """One eval question (one JSONL line). See docs/evals.md for each field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    category: str = Field(min_length=1)
    question: str = Field(min_length=1)
    kind: Kind = "ask"
    # `kind: "summary"`: the paper reference (paper id, arXiv id or title fragment).
    paper: str | None = None
    # `kind: "topic_summary"`: the topic (defaults to the question).
    topic: str | None = None
    gold: list[str] = Field(default_factory=list)
    expected_facts: list[str] = Field(default_factory=list)
    answerable: bool = True
    # True when `gold` is the complete list of papers the question asks for (list and
    # metadata questions): scored by list_recall, the share of them the answer cites.
    complete_list: bool = False
    follow_up_of: str | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EvalItem:
        if self.kind == "summary" and not self.paper:
            raise ValueError('kind "summary" needs a "paper" reference')
        if self.kind != "summary" and self.paper:
            raise ValueError('"paper" is only for kind "summary"')
        if self.kind != "topic_summary" and self.topic:
            raise ValueError('"topic" is only for kind "topic_summary"')
        if self.answerable and not self.gold:
            raise ValueError('an answerable item needs at least one "gold" paper id')
        if not self.answerable and (self.gold or self.expected_facts):
            raise ValueError('an unanswerable item has no "gold" and no "expected_facts"')
        if self.follow_up_of is not None and self.kind != "ask":
            raise ValueError('only kind "ask" items can be follow-ups')
        if len(set(self.gold)) != len(self.gold):
            raise ValueError('"gold" lists a paper id twice')
        if any(not fact.strip() for fact in self.expected_facts):
            raise ValueError('"expected_facts" has an empty string')
        return self

    @property
    def request(self) -> str:
        """What is sent to the assistant: the question, the paper reference or the topic."""
        if self.kind == "summary":
            return self.paper or self.question
        if self.kind == "topic_summary":
            return self.topic or self.question
        return self.question


class DatasetError(Exception):
    """A dataset with bad lines; `issues` are `file:line: reason` strings."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = issues
        super().__init__("\n".join(issues))


class Dataset(BaseModel):
    """A loaded dataset: its items in file order, its name and a hash of its content."""

    name: str
    sha256: str
    items: list[EvalItem]

    def limit(self, n: int | None) -> Dataset:
        """The first `n` items, plus the parents any kept follow-up needs."""
        if n is None or n >= len(self.items):
            return self
        by_id = {item.id: item for item in self.items}
        keep: set[str] = set()
        for item in self.items[:n]:
            current: EvalItem | None = item
            while current is not None and current.id not in keep:
                keep.add(current.id)
                current = by_id.get(current.follow_up_of) if current.follow_up_of else None
        items = [item for item in self.items if item.id in keep]
        return self.model_copy(update={"items": items})

    def chains(self) -> list[list[EvalItem]]:
        """Items grouped into conversations: a root then its follow-ups, in file order."""
        root_of: dict[str, str] = {}
        groups: dict[str, list[EvalItem]] = {}
        for item in self.items:
            root = root_of[item.follow_up_of] if item.follow_up_of else item.id
            root_of[item.id] = root
            groups.setdefault(root, []).append(item)
        return list(groups.values())


def _pydantic_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = f'missing field "{loc}"'
        elif err["type"] == "extra_forbidden":
            msg = f'unknown field "{loc}"'
        elif loc:
            msg = f"{loc}: {msg}"
        parts.append(msg)
    return "; ".join(parts)


def parse_dataset(text: str, name: str) -> Dataset:
    """Parse JSONL text; blank lines and lines starting with `#` or `//` are skipped.

    Raises `DatasetError` listing every bad line as `name:line: reason`.
    """
    issues: list[str] = []
    items: list[EvalItem] = []
    line_of: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "//")):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            issues.append(f"{name}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(data, dict):
            issues.append(f"{name}:{lineno}: expected a JSON object, got {type(data).__name__}")
            continue
        try:
            item = EvalItem.model_validate(data)
        except ValidationError as exc:
            issues.append(f"{name}:{lineno}: {_pydantic_reason(exc)}")
            continue
        if item.id in line_of:
            issues.append(
                f"{name}:{lineno}: duplicate id {item.id!r} (first at line {line_of[item.id]})"
            )
            continue
        if item.follow_up_of is not None:
            if item.follow_up_of == item.id:
                issues.append(f"{name}:{lineno}: item {item.id!r} is a follow-up of itself")
                continue
            if item.follow_up_of not in line_of:
                later = any(
                    _line_id(other) == item.follow_up_of for other in text.splitlines()[lineno:]
                )
                where = "a later line (a parent must come first)" if later else "no item"
                issues.append(
                    f"{name}:{lineno}: follow_up_of {item.follow_up_of!r} refers to {where}"
                )
                continue
        line_of[item.id] = lineno
        items.append(item)
    if issues:
        raise DatasetError(issues)
    if not items:
        raise DatasetError([f"{name}:1: the dataset has no items"])
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Dataset(name=name, sha256=digest, items=items)


def _line_id(raw: str) -> str | None:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def load_dataset(path: Path | str) -> Dataset:
    """Load a JSONL dataset file; `DatasetError` for bad lines, `OSError` if unreadable."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError([f"{file}:1: not UTF-8 text ({exc.reason})"]) from None
    return parse_dataset(text, str(file))
