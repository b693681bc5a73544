"""Re-ranking the first hits of a search inside each family: a guide and its own Q&As.

Why: a lexical score cannot tell the general entry of a matter from a specific one when both hold
the same words ("孩子转学要啥手续" matched a Q&A about transferring to another province above the
transfer guide; "房贷还清了怎么解除抵押" matched the mortgage guide above its release Q&A).  What
does tell them apart is how much of the entry's own wording the question says: a specific Q&A
whose question adds words the citizen never used ("外省") is less likely than a guide whose name
the citizen said in full, and the other way round.

How: among the first RERANK_DEPTH hits, entries of one family keep the places the family already
holds, and only swap among themselves, ordered by

    score * (1 + ALPHA * fit),  fit = max over the entry's wordings w of
                                      sum of idf(t) for t in w that the query holds / sum of idf(t) for t in w

where an entry's wordings are a guide's title and each alias, or a Q&A's standard question and
each of its citizens' wordings (the indexed fields keep them apart with WORDING_SEPARATOR, see
documents.py).  Hits of other families never move, and every hit keeps its own score, so score
thresholds (actions/config.py) mean what they meant.

Tuned on bench/retrieval's dev set only (322 questions): ALPHA 0.3 (0.25: one question fewer,
0.35 and 0.4: three fewer); unweighted term counts instead of idf lost the gain.  Both backends
call this with their hits, the family of each entry and their own idf, so they rank alike.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..documents import FIELDS, WORDING_SEPARATOR

if TYPE_CHECKING:
    from ..store import Store

ALPHA = 0.3
RERANK_DEPTH = 10  # hits fetched and re-ranked at least; more than the assistant shows (5)

# The fields holding an entry's own wordings, per kind.
WORDING_FIELDS: dict[str, tuple[str, ...]] = {"guide": ("title",), "qa": ("title", "questions"), "center": ("title",)}


@dataclass(frozen=True)
class Candidate:
    id: str
    kind: str
    family: str  # a Q&A's guide id; an entry's own id when it has no guide
    field_terms: Mapping[str, str]  # field -> space-joined terms, wordings split by WORDING_SEPARATOR
    score: float


def wordings(kind: str, field_terms: Mapping[str, str]) -> list[frozenset[str]]:
    """The term sets of an entry's own wordings (title, aliases, standard and similar questions)."""
    out = []
    for name in WORDING_FIELDS.get(kind, ("title",)):
        for part in field_terms.get(name, "").split(WORDING_SEPARATOR):
            terms = frozenset(part.split())
            if terms:
                out.append(terms)
    return out


def fit(query_terms: frozenset[str], candidate: Candidate, idf: Callable[[str], float]) -> float:
    """The largest idf-weighted share of one of the entry's wordings that the query holds (0..1)."""
    best = 0.0
    for wording in wordings(candidate.kind, candidate.field_terms):
        total = sum(idf(t) for t in wording)
        if total > 0:
            best = max(best, sum(idf(t) for t in wording & query_terms) / total)
    return best


def rerank(
    candidates: Sequence[Candidate],
    query_terms: Sequence[str],
    idf: Callable[[str], float],
    alpha: float = ALPHA,
    depth: int = RERANK_DEPTH,
) -> list[Candidate]:
    """The candidates (best first) with each family's members re-ordered within the family's places."""
    head, tail = list(candidates[:depth]), list(candidates[depth:])
    places: dict[str, list[int]] = {}
    for place, candidate in enumerate(head):
        places.setdefault(candidate.family, []).append(place)
    families = [slots for slots in places.values() if len(slots) > 1]
    if not families:
        return head + tail
    terms = frozenset(query_terms)
    out = list(head)
    for slots in families:
        members = [head[place] for place in slots]
        # Stable sort: equal keys keep the backend's order (score, then id).
        members.sort(key=lambda c: -(c.score * (1.0 + alpha * fit(terms, c, idf))))
        for place, member in zip(slots, members, strict=True):
            out[place] = member
    return out + tail


def lucene_idf(entries: int, document_frequency: int) -> float:
    """Lucene's idf, as the BM25F index computes it (never negative)."""
    return math.log(1.0 + (entries - document_frequency + 0.5) / (document_frequency + 0.5))


@dataclass(frozen=True)
class TermStatistics:
    """What a backend without the in-memory index needs to re-rank: entries, document frequencies
    and families, as of one store generation."""

    generation: int
    entries: int
    document_frequency: Mapping[str, int]
    family: Mapping[str, str]

    def idf(self, term: str) -> float:
        return lucene_idf(self.entries, self.document_frequency.get(term, 0))


# A Q&A's family is its guide; every other entry is its own family.
FAMILY_SQL = "COALESCE(json_extract(e.data, '$.guide'), s.id)"
_STATISTICS_SQL = f"""
SELECT s.id, {FAMILY_SQL}, {", ".join("s." + f for f in FIELDS)}
FROM search_index AS s JOIN entries AS e ON e.id = s.id
"""


def load_term_statistics(store: Store) -> TermStatistics:
    """Document frequencies and families of the whole store, read in one transaction (about as
    long as reading the index rows once: a fraction of a second at 10k entries)."""
    db = store.connection()
    db.execute("BEGIN")
    try:
        generation = store.generation()
        frequency: Counter[str] = Counter()
        family: dict[str, str] = {}
        for entry_id, entry_family, *texts in db.execute(_STATISTICS_SQL):
            family[entry_id] = entry_family
            frequency.update({t for text in texts for t in text.split() if t != WORDING_SEPARATOR})
    finally:
        db.execute("COMMIT")
    return TermStatistics(generation, len(family), dict(frequency), family)
