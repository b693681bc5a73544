"""Building a SearchHit from a backend's row: matched field, coverage and snippet, made in code so
every backend explains its hits the same way (OpenSearch's highlighter is not usable here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from ..documents import FIELD_WEIGHTS
from ..tokenizer import synonym_table
from .base import SearchHit

SNIPPET_CHARS = 60


def explain(field_terms: Mapping[str, str], query_terms: Sequence[str]) -> tuple[str, float]:
    """(field that contributed most, share of query terms found anywhere)."""
    wanted = set(query_terms)
    if not wanted:
        return "", 0.0
    found: set[str] = set()
    best, best_weight = "", 0.0
    for name, weight in FIELD_WEIGHTS.items():
        present = wanted.intersection(field_terms.get(name, "").split())
        found |= present
        if present and len(present) * weight > best_weight:
            best, best_weight = name, len(present) * weight
    return best, len(found) / len(wanted)


@lru_cache(maxsize=1)
def _spellings() -> dict[str, tuple[str, ...]]:
    """canonical term -> every lower-cased way of writing it (the synonym table reversed)."""
    out: dict[str, set[str]] = {}
    for variant, canonical in synonym_table().items():
        out.setdefault(canonical, {canonical.lower()}).add(variant)
    return {canonical: tuple(sorted(words)) for canonical, words in out.items()}


def first_match(text: str, query_terms: Sequence[str]) -> int:
    """Offset of the first place a query term, or a synonym of one, is written in `text`; -1 if none.

    A plain substring search (not jieba again): any word the tokenizer would have matched is
    written in the text, and this costs microseconds instead of milliseconds."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters change length when lower-cased
        lowered = text
    spellings = _spellings()
    first = -1
    for term in query_terms:
        for word in spellings.get(term, (term.lower(),)):
            at = lowered.find(word, 0, first + len(word) if first >= 0 else len(lowered))
            if at >= 0 and (first < 0 or at < first):
                first = at
    return first


def snippet(text: str, query_terms: Sequence[str], width: int = SNIPPET_CHARS) -> str:
    """A window of `text` around the first word that matches a query term."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    at = first_match(text, query_terms)
    start = max(0, at - width // 4) if at >= 0 else 0
    end = min(len(text), start + width)
    start = max(0, end - width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def make_hit(
    row: Mapping[str, object], field_terms: Mapping[str, str], query_terms: Sequence[str], score: float
) -> SearchHit:
    matched, coverage = explain(field_terms, query_terms)
    answer = str(row["answer"])
    return SearchHit(
        id=str(row["id"]),
        kind=str(row["kind"]),
        domain=str(row["domain"]),
        title=str(row["title"]),
        answer=answer,
        score=round(score, 4),
        matched_field=matched,
        coverage=round(coverage, 3),
        snippet=snippet(answer, query_terms),
    )
