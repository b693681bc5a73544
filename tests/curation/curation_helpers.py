"""Helpers for the curation suites: staff actors and entries to edit."""

from __future__ import annotations

import copy
from typing import Any

from knowledge_base.curation import Actor, Curation
from knowledge_base.kb import KnowledgeBase

EDITOR = Actor("小编", "editor")
EDITOR_2 = Actor("小李", "editor")
REVIEWER = Actor("审核甲", "reviewer")
REVIEWER_2 = Actor("审核乙", "reviewer")
ADMIN = Actor("管理员", "admin")
HELPER = Actor("帮办", "helper")

GUIDE_ID = "guide.id-card-first-application"  # fee 工本费20元/证 in the curated data
QA_ID = "qa.business.company-name-check"


def published(kb: KnowledgeBase, entry_id: str) -> tuple[dict[str, Any], int]:
    found = kb.store.get_with_version(entry_id)
    assert found is not None
    entry, version = found
    return copy.deepcopy(entry.dict(exclude_none=True)), version


def with_fee(data: dict[str, Any], standard: str) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["fee"]["standard"] = standard
    return changed


def open_curation(kb: KnowledgeBase, allow_self_approval: bool = False) -> Curation:
    curation = Curation(kb)
    curation.allow_self_approval = allow_self_approval
    return curation
