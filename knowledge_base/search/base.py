"""The search interface every backend implements, and what a hit carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from ..models import Entry
from ..tokenizer import shared_tokenizer

# Longer queries are cut: nobody's question has more meaningful words, and it bounds the work.
MAX_QUERY_CHARS = 500
MAX_QUERY_TERMS = 32


@dataclass(frozen=True)
class SearchHit:
    id: str
    kind: str  # guide / qa / center
    domain: str
    title: str
    answer: str  # Q&A answer, guide summary or centre address
    score: float  # backend's relevance score (higher is better); comparable within one result list
    matched_field: str  # the field that contributed most: title / questions / keywords / content
    coverage: float  # share of the query's distinct terms found in this entry (0..1)
    snippet: str  # a short piece of the entry's text around the first matched term

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare_query(text: str) -> list[str]:
    """Distinct canonical search terms of a query, in order; empty for blank/punctuation input."""
    terms = shared_tokenizer().search_terms(text[:MAX_QUERY_CHARS])
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


@runtime_checkable
class SearchBackend(Protocol):
    """What callers (aiohttp handlers, rasa-sdk actions, the CLI) may rely on."""

    name: str

    async def search(self, query: str, top_k: int = 5, kinds: Sequence[str] | None = None) -> list[SearchHit]:
        """Ranked hits for a citizen's question; [] when nothing matches or the query is blank."""
        ...

    async def index(self, entries: Sequence[Entry]) -> None:
        """Add or replace these entries in the index (called after every publish)."""
        ...

    async def remove(self, ids: Sequence[str]) -> None: ...

    async def close(self) -> None: ...
