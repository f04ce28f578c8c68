"""Stable paper ids: the arXiv id when known, else a slug of the title, else an abstract hash."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_ARXIV_NEW = re.compile(r"^\d{4}\.\d{4,5}$")


def slugify(text: str, max_len: int = 80) -> str:
    """Lower-case ASCII words joined by '-', cut at a word boundary to `max_len`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0]
    return slug


def normalize_arxiv_id(raw: str) -> str:
    """`arXiv:2504.13203v2` -> `2504.13203` (version dropped, prefix removed)."""
    value = raw.strip()
    value = re.sub(r"^(arxiv:|https?://arxiv\.org/(abs|pdf)/)", "", value, flags=re.I)
    value = re.sub(r"\.pdf$", "", value)
    return re.sub(r"v\d+$", "", value)


def normalize_doi(raw: str) -> str | None:
    """`https://doi.org/10.1145/ABC` / `doi:10.1145/abc` -> `10.1145/abc`; None if not a DOI."""
    value = re.sub(r"^(doi:\s*|https?://(dx\.)?doi\.org/)", "", raw.strip(), flags=re.I)
    return value.lower() if re.fullmatch(r"10\.\d{4,9}/\S+", value) else None


def paper_id_for(*, arxiv_id: str | None, title: str | None, abstract: str) -> str:
    """The stable id rule of DESIGN.md."""
    if arxiv_id:
        return normalize_arxiv_id(arxiv_id)
    if title:
        slug = slugify(title)
        if slug:
            return slug
    return "sha-" + hashlib.sha256(abstract.strip().encode()).hexdigest()[:12]


def is_arxiv_id(value: str) -> bool:
    """True for a new-style arXiv id (`2504.13203`)."""
    return bool(_ARXIV_NEW.match(normalize_arxiv_id(value)))
