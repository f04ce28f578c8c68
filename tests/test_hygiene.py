"""Output hygiene: escape sequences, controls and bidi overrides out of corpus text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.hygiene import clean_display, needs_cleaning
from retrieval.parsers import parse_file

ESC = "\x1b"
BEL = "\x07"


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        # OSC 0: sets the terminal's title, ended by BEL or by ST (ESC \).
        (f"Safe{ESC}]0;owned{BEL} title", "Safe title"),
        (f"Safe{ESC}]0;owned{ESC}\\ title", "Safe title"),
        # OSC 8 hyperlink around text: the text stays.
        (f"{ESC}]8;;https://evil.example{ESC}\\click{ESC}]8;;{ESC}\\", "click"),
        # CSI colours, cursor moves, screen clear; the 8-bit CSI.
        (f"{ESC}[1;31mRed{ESC}[0m text", "Red text"),
        (f"a{ESC}[2J{ESC}[Hb", "ab"),
        ("x\x9b31my", "xy"),
        # Other escapes (RIS resets the terminal), a lone ESC, DCS strings.
        (f"reset{ESC}c!", "reset!"),
        (f"lone {ESC}", "lone "),
        (f"d{ESC}P1$r{ESC}\\e", "de"),
        # C0 and C1 controls, DEL; a tab is a space.
        ("bell\x07 nul\x00 del\x7f c1\x85\x90", "bell nul del c1"),
        ("tab\there", "tab here"),
        # Bidi embeddings, overrides and isolates (Trojan Source), a BOM.
        ("user\u202eexe.txt\u202c", "userexe.txt"),
        ("\u2066isolated\u2069 \u2067rtl\u2069 \u2068fs\u2069", "isolated rtl fs"),
        ("\ufeffbom", "bom"),
        # An unterminated OSC swallows only up to the end of its line.
        (f"keep{ESC}]0;title", "keep"),
    ],
)
def test_clean_display_removes_what_a_terminal_acts_on(dirty: str, clean: str) -> None:
    assert needs_cleaning(dirty)
    assert clean_display(dirty) == clean


def test_clean_display_keeps_normal_text_of_every_script() -> None:
    for text in (
        "Attention Is All You Need",
        "Обучение языковых моделей",
        "大型语言模型的安全性",
        "Μηχανική Μάθηση",
        "हिन्दी भाषा",
        "العربية \u200f והעברית",  # RLM is a weak mark: kept
        "emoji 👩\u200d💻 and ZWNJ \u200c",
        "math ≤ ≥ ∑ and quotes “x” — ok",
    ):
        assert clean_display(text) == text
        assert clean_display(text, keep_newlines=True) == text
    plain = "nothing to do"
    assert clean_display(plain) is plain  # the fast path returns the same object


def test_clean_display_newlines() -> None:
    assert clean_display("a\r\nb\rc\nd\u2028e") == "a b c d e"
    assert clean_display("a\r\nb\rc\nd\u2028e", keep_newlines=True) == "a\nb\nc\nd\ne"


def test_display_fields_are_cleaned_at_ingest(tmp_path: Path) -> None:
    record = {
        "title": f"{ESC}]0;pwned{BEL}Zorblax {ESC}[31mStreaming{ESC}[0m\u202e Tokens",
        "authors": [f"Ada {ESC}[1mLovelace{ESC}[0m", "\u2066Bob\u2069", f"{ESC}[0m"],
        "affiliations": ["uw\x07", "cmu"],
        "category": f"C{ESC}[5mL",
        "url": f"https://example.org/{ESC}]8;;x{ESC}\\p",
        "abstract": f"We study {ESC}[32mtokens{ESC}[0m.\x00 They\u202e stream.",
    }
    untitled = {
        "arxiv_id": "2401.00001",
        "abstract": f"{ESC}[31mEscapes{ESC}[0m in the first sentence are removed. Rest.",
    }
    path = tmp_path / "dirty.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(untitled) + "\n")
    result = parse_file(path)
    assert result.issues == []
    paper, listing = result.papers
    assert paper.title == "Zorblax Streaming Tokens"
    assert paper.paper_id == "zorblax-streaming-tokens"  # no "31m" in the slug
    assert paper.authors == ["Ada Lovelace", "Bob"]
    assert paper.affiliations == ["uw", "cmu"]
    assert paper.category == "CL" and paper.url == "https://example.org/p"
    assert paper.abstract == "We study tokens. They stream."
    assert listing.title == "Escapes in the first sentence are removed… (arXiv:2401.00001)"
    for p in result.papers:
        dump = p.model_dump_json()
        assert "\\u001b" not in dump and "\\u202e" not in dump and "\\u0000" not in dump


def test_issue_messages_quoting_the_file_print_safely(tmp_path: Path) -> None:
    path = tmp_path / "links.txt"
    path.write_text(
        f"An abstract.\nSite: https://x.org/{ESC}]0;owned{BEL}\u202ep\narXiv:2401.01234\n"
    )
    (problem,) = parse_file(path).issues
    assert not needs_cleaning(str(problem))  # quoted with repr: escapes shown, not sent
    assert "\\x1b]0;owned\\x07\\u202ep" in problem.message
