"""How an entry looks to a search engine: weighted fields of text, the same for every backend.

Both backends index exactly these fields, tokenised by `knowledge_base.tokenizer` and joined with
spaces, with the same weights; that is what makes their rankings comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import QA, Bundle, Center, Entry, Guide, Policy, Terminal, entry_title
from .tokenizer import shared_tokenizer

# Field weights for BM25: a hit on the title counts most, then curated keywords and citizens'
# wordings.  FTS5 multiplies term frequency by the weight before saturating it (k1 = 1.2), so large
# weights make every title hit score the same; these moderate ones keep frequency and length in
# play (chosen on bench/retrieval's dev set).
FIELD_WEIGHTS: dict[str, float] = {"title": 4.0, "questions": 2.0, "keywords": 4.0, "content": 1.0}
FIELDS = tuple(FIELD_WEIGHTS)


@dataclass(frozen=True)
class SearchDocument:
    id: str
    kind: str
    domain: str
    title: str
    answer: str  # what a hit shows: a Q&A's answer, a guide's plain summary, a centre's address
    fields: dict[str, str]  # field name -> raw text

    def terms(self) -> dict[str, str]:
        """field name -> space-joined canonical search terms."""
        tokenizer = shared_tokenizer()
        return {name: " ".join(tokenizer.search_terms(text)) for name, text in self.fields.items()}


def _join(*parts: object) -> str:
    out: list[str] = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, (list, tuple)):
            out.extend(str(p) for p in part if p)
        else:
            out.append(str(part))
    return "\n".join(out)


def answer_text(entry: Entry) -> str:
    if isinstance(entry, QA):
        return entry.answer
    if isinstance(entry, (Guide, Bundle)):
        return entry.summary
    if isinstance(entry, Terminal):
        return f"{entry.place}；{entry.address}；{entry.hours}"
    if isinstance(entry, Policy):
        return entry.benefit
    return f"{entry.address}；{entry.hours}；电话 {entry.phone}"


def to_document(entry: Entry) -> SearchDocument:
    if isinstance(entry, Guide):
        fields = {
            # Aliases are other names of the matter itself, so they count as its title.
            "title": _join(entry.title, entry.aliases),
            "questions": _join([f.question for f in entry.faq]),
            "keywords": _join(entry.keywords, entry.bundle),
            # The plain summary only: FTS5's bm25 normalises by the length of the whole row, so the
            # long element lists (conditions, materials, steps) made every guide lose to its own
            # shorter Q&As.  Elements are read with KnowledgeBase.element, not found by search.
            "content": entry.summary,
        }
    elif isinstance(entry, Bundle):
        fields = {
            "title": _join(entry.title, entry.aliases),
            "questions": _join([f.question for f in entry.faq]),
            "keywords": _join(entry.keywords, entry.merged),
            # Member matters are named in the content only: a question about one of them belongs
            # to that member's guide first (its title weighs 4), the bundle comes second.
            "content": entry.summary,
        }
    elif isinstance(entry, QA):
        fields = {
            "title": entry.question,
            "questions": _join(entry.similar),
            "keywords": _join(entry.keywords, entry.category),
            "content": entry.answer,
        }
    elif isinstance(entry, Terminal):
        fields = {
            "title": entry.name,
            "questions": _join(entry.area, entry.place),
            "keywords": _join(entry.type, entry.services),
            "content": _join(entry.address, entry.note),
        }
    elif isinstance(entry, Policy):
        # Not indexed (models.UNSEARCHED_KINDS); the shape is kept for the entries table's title.
        fields = {"title": _join(entry.title, entry.aliases), "questions": "", "keywords": "", "content": entry.summary}
    else:
        assert isinstance(entry, Center)
        fields = {
            "title": entry.name,
            "questions": _join(entry.area, entry.places),
            "keywords": _join(entry.services),
            "content": _join(entry.address, entry.level),
        }
    return SearchDocument(entry.id, entry.kind, entry.domain, entry_title(entry), answer_text(entry), fields)
