"""Duplicate and near-duplicate entries: an import checked against the store and against itself.

Two entries are duplicates when one's standard question (a guide's title, a centre's name) equals
the other's standard question or one of its similar questions / aliases after normalisation
(lower case, no blanks or punctuation).  They are near-duplicates when those texts share most of
their search terms: the Dice coefficient of the shared tokenizer's canonical terms (synonyms folded,
stopwords dropped) is at least NEAR_THRESHOLD.  An imported entry with the id of a stored one is an
update of it, never its duplicate.

Only the imported entry's own standard question is compared (against every text of the others):
that is what a person reads in the report, and it keeps the check linear in the size of the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from .models import QA, Center, Entry, Guide, entry_title
from .tokenizer import shared_tokenizer

NEAR_THRESHOLD = 0.8
MIN_TERMS = 2  # one shared word is not a near-duplicate ("社保卡" vs "社保卡密码")
_NOT_WORDS = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """'社保卡 丢了怎么办？' -> '社保卡丢了怎么办'."""
    return _NOT_WORDS.sub("", text).lower()


def texts_of(entry: Entry) -> list[str]:
    """The texts citizens may ask an entry by: its standard question first."""
    if isinstance(entry, QA):
        return [entry.question, *entry.similar]
    if isinstance(entry, Guide):
        return [entry.title, *entry.aliases]
    if isinstance(entry, Center):
        return [entry.name]
    return [entry_title(entry)]


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


@dataclass(frozen=True)
class Duplicate:
    entry_id: str  # the imported entry
    position: str  # where it is in the file ("row 7", or its id for YAML)
    text: str  # its standard question / title
    match: Literal["exact", "near"]
    score: float  # 1.0 for exact
    against: Literal["store", "file"]
    other_id: str
    other_title: str
    other_text: str  # the text of the other entry that matched

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _Index:
    """Texts of a set of entries, by normalised text and by search term."""

    def __init__(self) -> None:
        self.exact: dict[str, list[tuple[str, str]]] = {}  # normalised text -> [(entry id, text)]
        self.by_term: dict[str, set[int]] = {}
        self.texts: list[tuple[str, str, frozenset[str]]] = []  # (entry id, text, terms)
        self.titles: dict[str, str] = {}

    def add(self, entry: Entry) -> None:
        self.titles[entry.id] = entry_title(entry)
        for text in texts_of(entry):
            self.exact.setdefault(normalise(text), []).append((entry.id, text))
            terms = _terms(text)
            index = len(self.texts)
            self.texts.append((entry.id, text, terms))
            for term in terms:
                self.by_term.setdefault(term, set()).add(index)

    def matches(self, entry: Entry, text: str) -> Iterable[tuple[str, str, str, float]]:
        """(other id, other text, exact/near, score), best first, one per other entry."""
        found: dict[str, tuple[str, str, str, float]] = {}
        for other_id, other_text in self.exact.get(normalise(text), []):
            if other_id != entry.id:
                found.setdefault(other_id, (other_id, other_text, "exact", 1.0))
        terms = _terms(text)
        if len(terms) >= MIN_TERMS:
            candidates = set().union(*(self.by_term.get(t, set()) for t in terms))
            for index in candidates:
                other_id, other_text, other_terms = self.texts[index]
                if other_id == entry.id or (other_id in found and found[other_id][2] == "exact"):
                    continue
                score = similarity(terms, other_terms)
                if score >= NEAR_THRESHOLD and score > found.get(other_id, ("", "", "", 0.0))[3]:
                    found[other_id] = (other_id, other_text, "near", round(score, 3))
        return sorted(found.values(), key=lambda m: (-m[3], m[0]))


def _terms(text: str) -> frozenset[str]:
    return frozenset(shared_tokenizer().search_terms(text))


def find_duplicates(
    entries: Sequence[Entry], existing: Iterable[Entry], positions: dict[str, str] | None = None
) -> list[Duplicate]:
    """Duplicates of each imported entry in the store (other ids) and earlier in the same file."""
    positions = positions or {}
    imported_ids = {e.id for e in entries}
    store = _Index()
    for entry in existing:
        if entry.id not in imported_ids:  # a stored entry the file updates is replaced, not duplicated
            store.add(entry)
    in_file = _Index()
    report: list[Duplicate] = []
    for entry in entries:
        text = texts_of(entry)[0]
        for against, index in (("store", store), ("file", in_file)):
            for other_id, other_text, match, score in index.matches(entry, text):
                report.append(
                    Duplicate(
                        entry_id=entry.id,
                        position=positions.get(entry.id, entry.id),
                        text=text,
                        match=match,  # type: ignore[arg-type]
                        score=score,
                        against=against,  # type: ignore[arg-type]
                        other_id=other_id,
                        other_title=index.titles[other_id],
                        other_text=other_text,
                    )
                )
        in_file.add(entry)
    return report
