"""actions/knowledge.get: an entry is parsed once per store generation, and a publish (in this
process or another) is seen by the next read."""

from __future__ import annotations

import asyncio

import pytest

from actions import knowledge
from knowledge_base.kb import KnowledgeBase
from knowledge_base.models import Guide

pytestmark = pytest.mark.usefixtures("store")  # the action server reads a private KB copy


def a_guide(kb: KnowledgeBase) -> Guide:
    found = next(e for e in kb.store.all("guide") if isinstance(e, Guide))
    return found


def test_an_entry_is_read_once_per_generation(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch):
    guide = a_guide(kb)
    reads: list[str] = []
    real = knowledge.knowledge_base().get
    monkeypatch.setattr(knowledge.knowledge_base(), "get", lambda entry_id: reads.append(entry_id) or real(entry_id))
    first = knowledge.get(guide.id)
    assert first == guide
    assert knowledge.get(guide.id) is first
    assert reads == [guide.id]


def test_a_publish_is_seen_by_the_next_read(kb: KnowledgeBase):
    guide = a_guide(kb)
    assert knowledge.get(guide.id) == guide
    changed = guide.copy(update={"title": guide.title + "（新）"})
    asyncio.run(kb.publish([changed]))  # another KnowledgeBase on the same file: as the console publishes
    again = knowledge.get(guide.id)
    assert again is not None and again.title == changed.title
