"""Building a SearchHit from a backend's row: matched field, coverage and snippet, made in code so
every backend explains its hits the same way (OpenSearch's highlighter is not usable here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..documents import FIELD_WEIGHTS
from ..tokenizer import shared_tokenizer
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


def snippet(text: str, query_terms: Sequence[str], width: int = SNIPPET_CHARS) -> str:
    """A window of `text` around the first word that matches a query term."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    wanted = set(query_terms)
    start = 0
    for token in shared_tokenizer().tokenize(text):
        if token.norm in wanted:
            start = max(0, token.start - width // 4)
            break
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
