"""The action server's view of the knowledge base: opened once per process, with the few lookups
the dialogue needs (find a guide by its exact title, a centre by place, an entry by search).

Every fact the assistant states comes through here, from the store named by KB_DB."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

from rasa_sdk import Tracker

from knowledge_base import KnowledgeBase, SearchHit, embeddings
from knowledge_base.models import QA, Bundle, Center, Entry, Guide, entry_title
from knowledge_base.search.base import prepare_query

from .config import ANSWER_KINDS, SEARCH_TOP_K, Settings
from .matching import NO_MATCH, Match, asked_verbatim, judge, matter_of, settled, usable
from .matching import ranked_choice as ranked_choice_of

logger = logging.getLogger(__name__)

_BRACKETED = re.compile(r"[（(][^）)]*[）)]")


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """The process-wide knowledge base (SQLite connections are opened per thread inside)."""
    kb = KnowledgeBase.open(settings().kb)
    logger.info("knowledge base opened: %s", kb.store.path)
    return kb


def reset() -> None:
    """Forget the open knowledge base and settings (tests point KB_DB at another store)."""
    knowledge_base.cache_clear()
    settings.cache_clear()
    _names.cache_clear()
    _examples.cache_clear()
    _entry.cache_clear()


@dataclass(frozen=True)
class _Names:
    guides_by_title: dict[str, str]  # exact title (also without its bracketed part) -> guide id
    centers: tuple[Center, ...]
    bundles_by_member: dict[str, frozenset[str]]  # member guide id -> the 一件事 bundles naming it


@lru_cache(maxsize=4)
def _names(generation: int) -> _Names:  # generation is the cache key: reread after a publish
    store = knowledge_base().store
    titles: dict[str, str] = {}
    for guide in [*store.all("guide"), *store.all("bundle")]:  # a 一件事 is named like a guide
        assert isinstance(guide, (Guide, Bundle))
        titles.setdefault(guide.title, guide.id)
        short = _BRACKETED.sub("", guide.title).strip()
        if short:
            titles.setdefault(short, guide.id)
        for alias in guide.aliases:
            titles.setdefault(alias, guide.id)
    centers = tuple(c for c in store.all("center") if isinstance(c, Center))
    by_member: dict[str, set[str]] = {}
    for bundle in store.all("bundle"):
        assert isinstance(bundle, Bundle)
        for member in bundle.members:
            by_member.setdefault(member, set()).add(bundle.id)
    return _Names(titles, centers, {m: frozenset(ids) for m, ids in by_member.items()})


def names() -> _Names:
    return _names(knowledge_base().store.generation())


def get(entry_id: str | None) -> Entry | None:
    """The entry as answered; the same object until the next publish: read it, never change it."""
    if not entry_id:
        return None
    return _entry(knowledge_base().store.generation(), entry_id)


@lru_cache(maxsize=1024)
def _entry(generation: int, entry_id: str) -> Entry | None:  # generation is the cache key: reread after a publish
    # A turn reads the same entries many times (each hit's matter when judging, the answer, its
    # guide): parsing an entry's JSON each time was ~5 ms of the action server's CPU per turn.
    return knowledge_base().get(entry_id)


def version(entry_id: str) -> int | None:
    return knowledge_base().store.version(entry_id)


def guide_of(entry: Entry | None) -> Guide | None:
    """The guide an entry is about: itself, or the guide a Q&A belongs to."""
    if isinstance(entry, Guide):
        return entry
    if isinstance(entry, QA) and entry.guide:
        guide = get(entry.guide)
        return guide if isinstance(guide, Guide) else None
    return None


def title(entry: Entry) -> str:
    return entry_title(entry)


def has_terms(text: str) -> bool:
    """Whether the text holds any word search can use (not only stopwords, punctuation, emoji)."""
    return bool(prepare_query(text))


def matter(entry_id: str) -> str:
    entry = get(entry_id)
    return matter_of(entry) if entry else entry_id


def bundles_of(matter_id: str) -> frozenset[str]:
    """The 一件事 bundles that name this guide as a member."""
    return names().bundles_by_member.get(matter_id, frozenset())


async def find(query: str, kinds: tuple[str, ...] = ANSWER_KINDS) -> Match:
    """Search and decide: answer / clarify / none, with the thresholds of actions/config.py; an
    entry whose title is the question itself is answered (matching.asked_verbatim)."""
    hits = await hits_for(query, kinds)
    thresholds = settings().thresholds
    verbatim = asked_verbatim(hits, query)
    if verbatim is not None and usable(verbatim, thresholds):
        return Match("answer", (verbatim,), (verbatim,), tuple(hits))
    return judge(hits, thresholds, matter, bundles_of)


async def hits_for(query: str, kinds: tuple[str, ...] = ANSWER_KINDS) -> list[SearchHit]:
    if not has_terms(query):
        return []
    return await knowledge_base().search(query, top_k=SEARCH_TOP_K, kinds=list(kinds))


async def settle(match: Match, reading: str, kinds: tuple[str, ...] = ANSWER_KINDS) -> Match | None:
    """`match`'s clarification settled by another reading of the message (matching.settled)."""
    return settled(match, await hits_for(reading, kinds), settings().thresholds, matter)


async def ranked_choice(choices: tuple[str, ...], reading: str) -> int | None:
    """The offered choice this reading of a reply clearly searches to (matching.ranked_choice)."""
    return ranked_choice_of(choices, await hits_for(reading), settings().thresholds, matter)


AGREEING_RANKS = 3  # how deep two searches of one message must agree (answers.find_in)


async def find_agreeing(part: str, whole: str, kinds: tuple[str, ...] = ANSWER_KINDS) -> Match:
    """A long message whose question part and whole text are each too weak to answer: the
    entries both searches rank near the top are offered as choices (never answered outright)."""
    part_hits = await hits_for(part, kinds)
    whole_hits = await hits_for(whole, kinds)
    near = {matter(h.id) for h in part_hits[:AGREEING_RANKS]}
    agreed, seen = [], set()
    for hit in whole_hits[:AGREEING_RANKS]:
        if matter(hit.id) in near and matter(hit.id) not in seen:
            agreed.append(hit)
            seen.add(matter(hit.id))
    thresholds = settings().thresholds
    if not agreed or agreed[0].score < thresholds.min_score:
        return NO_MATCH
    return Match("clarify", tuple(agreed[: thresholds.max_choices]))


def short_title(title: str) -> str:
    """A title without its bracketed part ("户口迁出（开具迁移证明）" -> "户口迁出")."""
    return _BRACKETED.sub("", title).strip()


def guide_by_name(name: str) -> Guide | None:
    """A guide named exactly (NLU service entities carry a guide's title or alias)."""
    guide_id = names().guides_by_title.get(name.strip())
    guide = get(guide_id) if guide_id else None
    return guide if isinstance(guide, Guide) else None


def all_centers() -> tuple[Center, ...]:
    return names().centers


def center_for_place(text: str) -> Center | None:
    """The centre serving a street, town, village or landmark named in `text` (longest name wins)."""
    text = "".join(text.split())
    if not text:
        return None
    best: tuple[int, Center] | None = None
    for center in all_centers():
        short_area = re.sub(r"(街道|镇)$", "", center.area)
        candidates = [center.area, center.name, *center.places]
        if len(short_area) >= 2 and center.level != "区级":
            candidates.append(short_area)
        for name in candidates:
            if name and (name in text or (len(text) >= 2 and text == name)):
                if best is None or len(name) > best[0]:
                    best = (len(name), center)
    return best[1] if best else None


def without_place_names(text: str) -> str:
    """The text without the names of the centres' streets, towns, villages and landmarks."""
    names = set()
    for center in all_centers():
        names.update(n for n in (center.area, center.name, *center.places) if n)
        short_area = re.sub(r"(街道|镇)$", "", center.area)
        if len(short_area) >= 2 and center.level != "区级":
            names.add(short_area)
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def centers_in(text: str) -> list[Center]:
    """Every centre whose area, name or place `text` names, in the order they are named."""
    text = "".join(text.split())
    found: list[tuple[int, Center]] = []
    for center in all_centers():
        short_area = re.sub(r"(街道|镇)$", "", center.area)
        candidates = [center.area, center.name, *center.places]
        if len(short_area) >= 2 and center.level != "区级":
            candidates.append(short_area)
        positions = [text.find(name) for name in candidates if name and name in text]
        if positions:
            found.append((min(positions), center))
    named = [c for _, c in sorted(found, key=lambda pair: pair[0])]
    if len(named) > 1:
        # "济阳街道" also names the district ("济阳"): a street or town named beats the district.
        named = [c for c in named if c.level != "区级"] or named
    return named


# A misspelt street or town ("回合街道", "崔宅镇"): two characters before 街道/镇/乡, one of them
# right and in its place.  Only the shape "XX街道" is trusted, so ordinary words do not match.
_AREA_SHAPED = re.compile(r"([\u4e00-\u9fff]{2})(?:街道|街办|镇|乡)")


def center_by_misspelling(text: str) -> Center | None:
    """The one street or town centre an area-shaped word is a misspelling of, or None."""
    for match in _AREA_SHAPED.finditer(text):
        word = match.group(1)
        hits = []
        for center in all_centers():
            if center.level == "区级":
                continue
            short = re.sub(r"(街道|镇)$", "", center.area)
            if len(short) == 2 and short != word and (short[0] == word[0] or short[1] == word[1]):
                hits.append(center)
        if len(hits) == 1:
            return hits[0]
    return None


def district_center() -> Center | None:
    return next((c for c in all_centers() if c.level == "区级"), None)


def _guides_by_interest() -> list[Guide]:
    """Guides ordered by how many Q&As ask about them (what citizens ask most), then by id."""
    store = knowledge_base().store
    counts: dict[str, int] = {}
    for qa in store.all("qa"):
        if isinstance(qa, QA) and qa.guide:
            counts[qa.guide] = counts.get(qa.guide, 0) + 1
    guides = [g for g in store.all("guide") if isinstance(g, Guide)]
    return sorted(guides, key=lambda g: (-counts.get(g.id, 0), g.id))


@lru_cache(maxsize=4)
def _examples(generation: int) -> tuple[tuple[Guide, ...], tuple[QA, ...], tuple[Guide, ...]]:
    guides = _guides_by_interest()
    by_guide: dict[str, QA] = {}
    for qa in knowledge_base().store.all("qa"):
        if isinstance(qa, QA) and qa.guide and qa.guide not in by_guide:
            by_guide[qa.guide] = qa
    questions = tuple(by_guide[g.id] for g in guides if g.id in by_guide)
    online = tuple(g for g in guides if g.online is not None)
    return tuple(guides), questions, online


def example_guides(count: int = 3) -> list[Guide]:
    return list(_examples(knowledge_base().store.generation())[0][:count])


def example_questions(count: int = 3) -> list[QA]:
    """Questions citizens often ask: one Q&A of each of the most asked-about guides."""
    return list(_examples(knowledge_base().store.generation())[1][:count])


def example_online_guides(count: int = 3) -> list[Guide]:
    return list(_examples(knowledge_base().store.generation())[2][:count])


def adopt_question_vector(tracker: Tracker) -> None:
    """Take the sentence vector Rasa's NLU computed for this message (embeddings.QUESTION_VECTOR)
    into this process's cache, so searching the same question here does not encode it again."""
    data = tracker.latest_message.get(embeddings.QUESTION_VECTOR)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return
    vector = embeddings.unpack(str(data.get("vector") or ""))
    if vector is not None:
        embeddings.remember_query(data["text"], vector)
