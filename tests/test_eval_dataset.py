"""Eval dataset loader: schema validation with `file:line: reason` errors, chains, limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import SEED_DATASET
from evals.dataset import DatasetError, load_dataset, parse_dataset
from retrieval.ids import is_arxiv_id, slugify


def _line(**kw: object) -> str:
    base: dict[str, object] = {"id": "q1", "category": "lookup", "question": "Q?", "gold": ["p1"]}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def _issues(text: str) -> list[str]:
    with pytest.raises(DatasetError) as info:
        parse_dataset(text, "set.jsonl")
    return info.value.issues


def test_good_lines_and_comments() -> None:
    text = "\n".join(
        [
            "# a comment",
            _line(),
            "",
            _line(id="q2", question="And then?", follow_up_of="q1"),
            _line(id="u1", category="unanswerable", gold=[], answerable=False),
        ]
    )
    ds = parse_dataset(text, "set.jsonl")
    assert [i.id for i in ds.items] == ["q1", "q2", "u1"]
    assert [[i.id for i in c] for c in ds.chains()] == [["q1", "q2"], ["u1"]]
    assert len(ds.sha256) == 64


def test_invalid_json_reports_file_and_line() -> None:
    issues = _issues(_line() + "\n{not json\n")
    assert len(issues) == 1
    assert issues[0].startswith("set.jsonl:2: invalid JSON")


def test_missing_field() -> None:
    bad = json.dumps({"id": "q1", "category": "lookup", "gold": ["p"]})
    assert _issues(bad) == ['set.jsonl:1: missing field "question"']


def test_unknown_field_and_non_object() -> None:
    issues = _issues(_line(colour="red") + "\n[1, 2]\n")
    assert issues[0] == 'set.jsonl:1: unknown field "colour"'
    assert issues[1] == "set.jsonl:2: expected a JSON object, got list"


def test_follow_up_to_unknown_item() -> None:
    issues = _issues(_line() + "\n" + _line(id="q2", follow_up_of="nope"))
    assert issues == ["set.jsonl:2: follow_up_of 'nope' refers to no item"]


def test_follow_up_before_its_parent() -> None:
    text = _line(id="q2", follow_up_of="q1") + "\n" + _line(id="q1")
    issues = _issues(text)
    assert issues[0].startswith("set.jsonl:1: follow_up_of 'q1' refers to a later line")


def test_duplicate_id_and_all_bad_lines_reported() -> None:
    text = "\n".join([_line(), _line(), "oops", _line(id="x", gold=[])])
    issues = _issues(text)
    assert [i.split(":")[1] for i in issues] == ["2", "3", "4"]
    assert "duplicate id 'q1' (first at line 1)" in issues[0]
    assert "needs at least one" in issues[2]


def test_semantic_rules() -> None:
    assert "unanswerable item has no" in _issues(_line(answerable=False))[0]
    assert 'needs a "paper"' in _issues(_line(kind="summary"))[0]
    assert "only for kind" in _issues(_line(paper="X"))[0]
    assert "twice" in _issues(_line(gold=["a", "a"]))[0]


def test_empty_and_non_utf8(tmp_path: Path) -> None:
    assert _issues("\n# nothing\n") == ["set.jsonl:1: the dataset has no items"]
    f = tmp_path / "bin.jsonl"
    f.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DatasetError) as info:
        load_dataset(f)
    assert info.value.issues[0].startswith(f"{f}:1: not UTF-8")


def test_limit_keeps_parents() -> None:
    text = "\n".join([_line(id="a"), _line(id="b"), _line(id="c", follow_up_of="a")])
    ds = parse_dataset(text, "s")
    assert [i.id for i in ds.limit(1).items] == ["a"]
    assert [i.id for i in ds.limit(2).items] == ["a", "b"]
    assert [i.id for i in ds.limit(None).items] == ["a", "b", "c"]


def test_seed_dataset_shape() -> None:
    ds = load_dataset(SEED_DATASET)
    items = ds.items
    assert len(items) >= 60
    cats = {i.category for i in items}
    assert {"lookup", "multi", "fact", "author", "year", "followup", "summary", "topic"} <= cats
    assert sum(1 for i in items if not i.answerable) >= 10
    assert sum(1 for i in items if i.follow_up_of) >= 5
    assert any(i.kind == "summary" for i in items)
    assert any(i.kind == "topic_summary" for i in items)

    # Issue 12: the kinds of questions users ask, in the numbers it asks for.
    def n(cat: str) -> int:
        return sum(1 for i in items if i.category == cat)

    assert n("compare") >= 10 and n("numeric") >= 10
    assert sum(1 for i in items if i.complete_list) >= 8
    assert n("unanswerable-in") >= 8 and n("out-of-domain") >= 8
    assert sum(1 for i in items if i.follow_up_of and i.id.startswith("fu-")) >= 15
    assert all(len(i.gold) >= 2 for i in items if i.category == "compare")
    multi = [i for i in items if i.category == "multi"]
    assert multi and all(2 <= len(i.gold) <= 4 for i in multi)
    for item in items:
        for pid in item.gold:
            # Gold ids follow retrieval.ids: an arXiv id or a title slug.
            assert is_arxiv_id(pid) or pid == slugify(pid), pid
