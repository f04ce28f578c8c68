"""Output hygiene: corpus text made safe to print on a terminal (issue 11, case 6).

`clean_display(text)` removes what a terminal would act on instead of showing: escape
sequences (CSI colour codes, OSC such as `ESC]0;title BEL`, DCS/SOS/PM/APC strings, their
8-bit C1 forms), every other C0/C1 control character and DEL, and the bidi embeddings,
overrides and isolates (U+202A-U+202E, U+2066-U+2069) that reorder what is shown. Normal
text of every script is kept, including ZWJ/ZWNJ (needed by emoji and Indic scripts) and
the weak marks LRM/RLM/ALM, which cannot reorder text beyond their neighbours.

Pure and cheap: text with nothing to remove is returned as is after one regex search.
"""

from __future__ import annotations

import re

__all__ = ["clean_display", "needs_cleaning"]

# Strings a terminal swallows up to a terminator (BEL or ST): OSC, DCS, SOS, PM, APC, in
# 7-bit (ESC ] ...) and 8-bit (U+009D ...) forms. Unterminated: up to the end of the line.
_STRING_SEQ = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
# CSI: ESC [ (or U+009B), parameters, intermediates, a final byte (colours, cursor moves).
_CSI_SEQ = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
# Any other escape: ESC, intermediates, a final byte (ESC c resets the terminal).
_ESC_SEQ = r"\x1b[ -/]*[0-~]?"
_SEQUENCES = re.compile(f"{_STRING_SEQ}|{_CSI_SEQ}|{_ESC_SEQ}")

# Single characters removed: C0 controls but tab and line ends, DEL, C1 controls, bidi
# embeddings/overrides/isolates, BOM / zero-width no-break space, interlinear annotations.
_REMOVE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb"
_LINE_BREAKS = "\r\n\u2028\u2029"
_NEEDS = re.compile(f"[{_REMOVE}\t{_LINE_BREAKS}]")
_DROP: dict[int, None] = {}
for _lo, _hi in ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F), (0x202A, 0x202E)):
    _DROP.update(dict.fromkeys(range(_lo, _hi + 1)))
_DROP.update(dict.fromkeys((*range(0x2066, 0x206A), 0xFEFF, 0xFFF9, 0xFFFA, 0xFFFB)))
_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029]")


def needs_cleaning(text: str) -> bool:
    """True when `clean_display` would change `text`."""
    return _NEEDS.search(text) is not None


def clean_display(text: str, *, keep_newlines: bool = False) -> str:
    """`text` without escape sequences, control characters and bidi overrides.

    With `keep_newlines`, line breaks (`\\r\\n`, `\\r`, U+2028...) become `\\n`; without, a
    space (a one-line field such as a title). A tab becomes a space.
    """
    if not _NEEDS.search(text):
        return text
    text = _SEQUENCES.sub("", text).translate(_DROP).replace("\t", " ")
    return _LINE_BREAK.sub("\n" if keep_newlines else " ", text)
