"""Preview for the editor: how the assistant would answer a question if a draft were published.

Nothing here re-implements the assistant.  The search is the embedded backend's own
(EmbeddedSearch.search_sync: BM25F, reranking, hit explanation) over the published index with the
draft's row swapped in; the decision is actions.matching.judge with the action server's thresholds
(actions.config); the reply text is laid out by actions.texts and knowledge_base.elements, as the
actions do.  What the preview cannot know is the conversation: the NLU's intent and entities and
the service in context.  It takes an element question ("…要多少钱") from its cue words, as the
actions do when the NLU gives no element, and answers without context.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from actions import texts
from actions.config import ANSWER_KINDS, SEARCH_TOP_K, Settings
from actions.matching import Match, judge, matter_of
from knowledge_base.documents import to_document
from knowledge_base.elements import render_element
from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import QA, Entry, Guide, entry_title
from knowledge_base.search.base import prepare_query
from knowledge_base.search.bm25f import Bm25fIndex, IndexRow
from knowledge_base.search.embedded import EmbeddedSearch, load_index

GUIDE_ONLY = ("guide",)


@lru_cache(maxsize=1)
def _thresholds() -> Any:
    return Settings.from_env().thresholds


class _DraftSearch(EmbeddedSearch):
    """The embedded search over a fixed index: the published rows with the draft's row swapped in."""

    def __init__(self, kb: KnowledgeBase, index: Bm25fIndex) -> None:
        super().__init__(kb.store)
        self._fixed = index

    def current_index(self) -> Bm25fIndex:
        return self._fixed


def _published_index(kb: KnowledgeBase) -> Bm25fIndex:
    if isinstance(kb.backend, EmbeddedSearch):
        return kb.backend.current_index()
    return load_index(kb.store)  # Elasticsearch serves search: preview with the same BM25F on the store


def _draft_row(draft: Entry) -> IndexRow:
    doc = to_document(draft)
    values: dict[str, Any] = {
        "id": doc.id,
        "kind": doc.kind,
        "domain": doc.domain,
        "title": doc.title,
        "answer": doc.answer,
        "field_terms": doc.terms(),
    }
    if "family" in {f.name for f in dataclasses.fields(IndexRow)}:
        values["family"] = draft.guide if isinstance(draft, QA) and draft.guide else ""
    return IndexRow(**values)


def _search_with(kb: KnowledgeBase, draft: Entry | None) -> EmbeddedSearch:
    published = _published_index(kb)
    if draft is None:
        return _DraftSearch(kb, published)
    rows = [row for row in published.rows if row.id != draft.id] + [_draft_row(draft)]
    return _DraftSearch(kb, Bm25fIndex(rows, generation=-1, params=published.params))


def answer_preview(kb: KnowledgeBase, question: str, draft: Entry | None) -> dict[str, Any]:
    """{"outcome": answer/clarify/none/ask, "text", "entry_id", "uses_draft", "hits": […]}."""
    search = _search_with(kb, draft)
    draft_id = draft.id if draft else None

    def entry(entry_id: str) -> Entry | None:
        if draft is not None and entry_id == draft.id:
            return draft
        return kb.get(entry_id)

    def matter(entry_id: str) -> str:
        found = entry(entry_id)
        return matter_of(found) if found else entry_id

    def find(text: str, kinds: tuple[str, ...]) -> tuple[Match, list[dict[str, Any]]]:
        if not prepare_query(text):
            return Match("none", ()), []
        hits = search.search_sync(text, top_k=SEARCH_TOP_K, kinds=list(kinds))
        shown = [
            {
                "id": h.id,
                "title": h.title,
                "score": h.score,
                "coverage": h.coverage,
                "is_draft": h.id == draft_id,
            }
            for h in hits
        ]
        return judge(hits, _thresholds(), matter), shown

    element = texts.detect_element(question)
    if element:
        rest = texts.strip_element_cues(question)
        if not prepare_query(rest):
            return _reply("ask", texts.ASK_WHICH_SERVICE, None, draft, [])
        match, shown = find(rest, GUIDE_ONLY)
    else:
        match, shown = find(question, ANSWER_KINDS)

    if match.outcome == "none":
        return _reply("none", texts.NOT_FOUND.format(query=texts.quote(question)), None, draft, shown)
    chosen = [e for e in (entry(h.id) for h in match.choices) if e is not None]
    if match.outcome == "clarify":
        titles = [entry_title(e) for e in chosen]
        if len(titles) == 1:
            text = texts.CLARIFY_ONE.format(title=titles[0])
        else:
            text = "\n".join([texts.CLARIFY_MANY, *(f"{i}. {t}" for i, t in enumerate(titles, start=1))])
        return _reply("clarify", text, None, draft, shown)
    best = chosen[0]
    if element:
        guide = best if isinstance(best, Guide) else None
        if isinstance(best, QA) and best.guide:
            found = entry(best.guide)
            guide = found if isinstance(found, Guide) else None
        if guide is not None:
            content = render_element(guide, element)
            if content:
                return _reply("answer", texts.guide_element(guide, element, content), guide.id, draft, shown)
            label = texts.ELEMENT_LABELS[element]
            return _reply(
                "answer", texts.ELEMENT_MISSING.format(title=guide.title, label=label), guide.id, draft, shown
            )
    return _reply("answer", texts.entry_answer(best), best.id, draft, shown)


def _reply(
    outcome: str, text: str, entry_id: str | None, draft: Entry | None, hits: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "text": text,
        "entry_id": entry_id,
        "uses_draft": draft is not None and entry_id == draft.id,
        "hits": hits,
    }
