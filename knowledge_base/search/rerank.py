"""Two rules applied to the first hits of every search, in both backends: title-only entries are
scored by their title's fit, and when a question says nothing but the name of a matter, the
matter's guide comes before its own Q&As.

Title fit (issue #11): a real exported knowledge base names each Q&A by a few staff keywords and
nothing else (no similar questions), and holds many near neighbours: one matter under many
aspects ("公积金提取 租房", "… 要件", "… 时限"), one aspect for many sibling matters.  Their long
official answers share most words, so BM25F scores them almost alike.  What tells them apart is
the title: the entry whose title the question covers is the one asked about.  So a title-only
entry's score is multiplied by TITLE_MISS for every title term the question does not hold
(the overview "公积金提取 租房" beats "公积金提取 租房 要件" unless the question asks for the
materials).  Entries with similar questions keep their scores: the curated data is unchanged.
Measured on the export-shaped corpus's dev set (bench/retrieval/NOTES.md).

Why: a guide and its Q&As hold the same words, so which of them scores a little higher is close to
chance ("新生儿上户口怎么办" matched the Q&A about the materials for it above the guide
"出生登记（报户口）").  When every term of the question is among the guide's own names (title and
aliases), the citizen asked about the matter as a whole, and the guide answers that.  Anything
more specific in the question (a term none of those names has) leaves the order to the score.

How: among the first RERANK_DEPTH hits, a guide that is there together with at least one of its own
Q&As, and whose title field holds every query term, takes the first of the places its family
holds; the family's other members keep their order in the remaining places.  Hits of other
families never move, and every hit keeps its own score, so the thresholds in actions/config.py
mean what they meant.

Guide-first measured (dev set and held-out curated wordings only; see bench/retrieval/NOTES.md): dev R@1
0.844 -> 0.847 (352 questions), `python -m actions.calibrate` top-1 0.504 -> 0.512 (1,038 held-out
wordings).  A graded version (score * (1 + 0.3 * share of the entry's best wording that the query
holds)) gained 3 dev questions but lost 35 held-out wordings, and was not kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store

RERANK_DEPTH = 10  # hits fetched and re-ranked at least; more than the assistant shows (5)


@dataclass(frozen=True)
class Candidate:
    id: str
    kind: str
    family: str  # a Q&A's guide id; an entry's own id when it has no guide
    title_terms: str  # the space-joined terms of the title field (a guide's title and aliases)
    score: float
    title_only: bool = False  # a Q&A named by its title alone (no similar questions: a real export)


TITLE_MISS = 0.75  # score factor per title term the query lacks, for title-only entries
TITLE_FIT_DEPTH = 30  # lexical hits fetched at least, so the title fit can lift an entry from below the 10th


def is_title_only(kind: str, field_terms: Mapping[str, str]) -> bool:
    """A Q&A without citizens' wordings: its title is all that says what it answers."""
    return kind == "qa" and not field_terms.get("questions", "").strip()


def title_fit(candidates: Sequence[Candidate], query_terms: Sequence[str]) -> list[Candidate]:
    """Title-only entries lose TITLE_MISS per title term the query does not hold, then all are
    re-sorted by score (stable).  Entries with similar questions keep their scores."""
    terms = frozenset(query_terms)
    out = []
    for candidate in candidates:
        if candidate.title_only:
            missing = sum(1 for t in set(candidate.title_terms.split()) if t not in terms)
            candidate = replace(candidate, score=candidate.score * TITLE_MISS**missing)
        out.append(candidate)
    if len(out) == len([c for c in out if not c.title_only]):
        return out
    return sorted(out, key=lambda c: -c.score)


def names_the_matter(guide: Candidate, query_terms: frozenset[str]) -> bool:
    """Every query term is one of the guide's title/alias terms."""
    return bool(query_terms) and query_terms.issubset(guide.title_terms.split())


def rerank(candidates: Sequence[Candidate], query_terms: Sequence[str], depth: int = RERANK_DEPTH) -> list[Candidate]:
    """The candidates (best first), title-only entries scored by their title's fit (title_fit), and
    a guide moved to the front of its family where the question names only its matter."""
    candidates = title_fit(candidates, query_terms)
    head, tail = list(candidates[:depth]), list(candidates[depth:])
    places: dict[str, list[int]] = {}
    for place, candidate in enumerate(head):
        places.setdefault(candidate.family, []).append(place)
    terms = frozenset(query_terms)
    for family, slots in places.items():
        if len(slots) < 2:
            continue
        members = [head[place] for place in slots]
        guide = next((m for m in members if m.kind == "guide" and m.id == family), None)
        if guide is None or guide is members[0] or not names_the_matter(guide, terms):
            continue
        members.remove(guide)
        for place, member in zip(slots, [guide, *members], strict=True):
            head[place] = member
    return head + tail


# A Q&A's family is its guide; every other entry is its own family.
FAMILY_SQL = "COALESCE(json_extract(e.data, '$.guide'), e.id)"


@dataclass(frozen=True)
class Families:
    """entry id -> family, as of one store generation (for a backend without the in-memory index)."""

    generation: int
    family: Mapping[str, str]

    def of(self, entry_id: str) -> str:
        return self.family.get(entry_id, entry_id)


def load_families(store: Store) -> Families:
    """Every entry's family, read in one transaction with the generation it belongs to."""
    db = store.connection()
    db.execute("BEGIN")
    try:
        generation = store.generation()
        family = dict(db.execute(f"SELECT e.id, {FAMILY_SQL} FROM entries AS e"))
    finally:
        db.execute("COMMIT")
    return Families(generation, family)
