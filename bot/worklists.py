"""Staff worklists (/kb/worklists): what citizens asked that the knowledge base did not answer well.

Three lists, each item closed with an outcome (who, when) kept in the bot database:

    question  unanswered questions: fallbacks and clarifications nobody chose from (the
              `unresolved` payload, docs/payloads.md), grouped by similarity of their words
    rating    差评: answers and helper conversations rated 不满意 or 非常不满意 (bot/ratings.py), with the
              reason, the conversation, the rated entry or helper, and the 整改 deadline
    draft     helpers' 沉淀到知识库 drafts (bot/helpdesk.py, table kb_drafts)

and one list read from the knowledge base itself: 缺少群众问法, the Q&A entries without any similar
question (an imported export usually has none), until staff add citizens' wordings to them.

One click adds a citizen's wording as a similar question of an entry (published at once through
bot.curation's one Curation per process, so search finds the entry for it straight away) or opens
a new draft in the editor; `GET /api/kb/worklists/report` gives the follow-up rate of 差评.

Grouping is greedy: questions are taken oldest first and join the first group whose first question
shares enough search terms with them (Dice coefficient over the shared tokenizer's canonical terms,
so synonyms count as the same word); otherwise they start a group.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot import curation, helpdesk, ratings, staff_pages
from bot.access import json_body, require, require_changing
from bot.keys import STORE
from bot.responses import RefusedError, ok
from bot.shared.masking import mask
from bot.shared.roles import CURATION
from bot.store import Store

GROUP_SIMILARITY = 0.6  # Dice coefficient of search terms needed to join a group
MAX_TEXT = 200  # a similar question longer than this is not a wording, it is a paragraph
MAX_NOTE = 500

# outcome -> how the console names it
OUTCOMES = {
    "rectified": "已整改",
    "explained": "已回访说明",
    "added_question": "已添加为相似问法",
    "new_draft": "已新建草稿",
    "entry_updated": "已修改条目",
    "no_action_needed": "无需处理",
    "duplicate": "重复",
}
ITEM_KINDS = ("question", "rating", "draft")
_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)


# -- grouping -------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, without blanks and punctuation: '社保卡 丢了！' -> '社保卡丢了'."""
    return _PUNCTUATION.sub("", text).lower()


def terms(text: str) -> frozenset[str]:
    from knowledge_base.tokenizer import shared_tokenizer  # jieba: loaded on first use

    return frozenset(shared_tokenizer().search_terms(text))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


@dataclass
class Group:
    terms: frozenset[str]
    key: str
    items: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        wordings = Counter(item["text"] for item in self.items)
        return {
            "label": wordings.most_common(1)[0][0],
            "count": len(self.items),
            "conversations": sorted({item["conversation_id"] for item in self.items}),
            "reasons": dict(Counter(item["reason"] for item in self.items)),
            "choices": sorted({c for item in self.items for c in item["choices"]}),
            "last_at": max(item["created_at"] for item in self.items),
            "items": self.items,
        }


def group_questions(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Greedy clustering on term overlap; biggest groups first, then the most recent."""
    groups: list[Group] = []
    by_text: dict[str, Group] = {}
    for question in sorted(questions, key=lambda q: q["id"]):
        key = normalise(question["text"])
        group = by_text.get(key)
        if group is None:
            words = terms(question["text"])
            group = max(
                (g for g in groups if similarity(words, g.terms) >= GROUP_SIMILARITY),
                key=lambda g: similarity(words, g.terms),
                default=None,
            )
            if group is None:
                group = Group(words, key)
                groups.append(group)
            by_text[key] = group
        group.items.append(question)
    result = [g.to_json() for g in groups]
    result.sort(key=lambda g: (-g["count"], -g["last_at"]))
    return result


# -- reading the lists ----------------------------------------------------------------------------


def _question_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "text": row["text"],
        "reason": row["reason"],
        "choices": json.loads(row["choices"] or "[]"),
        "conversation_id": row["conversation_id"],
        "channel": row["channel"],
        "created_at": row["created_at"],
    }


async def unanswered_groups(store: Store) -> list[dict[str, Any]]:
    questions = [_question_json(row) for row in await store.open_unresolved()]
    # Tokenizing is CPU work (about 0.7 ms a question): off the event loop citizens are served on.
    return await asyncio.to_thread(group_questions, questions)


async def bad_ratings(store: Store, closed: bool = False) -> list[dict[str, Any]]:
    """差评 (level 1-2) with the rated answer and the question before it (both masked), open or closed;
    the ones nearest their deadline first."""
    rows = await store.low_ratings(closed)
    when = time.time()
    for row in rows:
        row["question"] = mask(row["question"]) if row["question"] else None
        row["level_label"] = ratings.label(row["level"])
        row["reason_label"] = ratings.REASONS.get(row["reason"] or "", None)
        row["overdue"] = row["outcome"] is None and row["due_at"] is not None and row["due_at"] < when
    return rows


async def helper_drafts(store: Store) -> list[dict[str, Any]]:
    return helpdesk.open_drafts(store.db)


async def follow_up_report(store: Store, since: float | None = None, until: float | None = None) -> dict[str, Any]:
    """实名差评整改: of the 差评 given in [since, until), how many were closed, on time, with which outcome."""
    counts = await store.low_rating_follow_up(since if since is not None else 0.0, until if until is not None else 1e12)
    total, closed = counts["total"], counts["closed"]
    return {
        "bad_ratings": total,
        "closed": closed,
        "open": total - closed,
        "on_time": counts["on_time"] or 0,
        "overdue": counts["overdue"] or 0,
        "follow_up_rate": round(closed / total, 4) if total else None,
        "by_outcome": counts["by_outcome"],
    }


async def transcript(store: Store, conversation_id: str) -> dict[str, Any] | None:
    """A conversation as staff read it: every message, personal numbers masked."""
    conversation = await store.get_conversation(conversation_id)
    if conversation is None:
        return None
    messages = await store.history(conversation_id, 0, 1000)
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "state": conversation.state.value,
        "created_at": conversation.created_at,
        "messages": [
            {
                "seq": m.seq,
                "direction": m.direction.value,
                "kind": m.kind.value,
                "text": mask(m.text),
                "entry": {"id": m.entry.id, "title": m.entry.title} if m.entry else None,
                "rating": m.rating,
                "helper": m.extra.get("helper"),
                "created_at": m.created_at,
            }
            for m in messages
        ],
    }


# -- acting on items ------------------------------------------------------------------------------


def _item_ids(body: dict[str, Any]) -> tuple[str, list[int]]:
    kind = body.get("kind")
    ids = body.get("ids")
    if kind not in ITEM_KINDS:
        raise RefusedError(400, "bad_kind", "清单类型不对。 / kind must be question, rating or draft.")
    if not isinstance(ids, list) or not ids or len(ids) > 1000 or not all(isinstance(i, int) for i in ids):
        raise RefusedError(400, "bad_ids", "请选择要处理的条目。 / ids: a list of item numbers.")
    return kind, ids


async def _check_open(store: Store, kind: str, ids: list[int]) -> None:
    if kind == "draft":
        found = helpdesk.existing_drafts(store.db, ids)
    else:
        found = await store.existing_items(kind, ids)
    if len(found) != len(set(ids)):
        raise RefusedError(404, "not_found", "有条目不存在。 / Some items do not exist.")
    if await store.closed_items(kind, ids):
        raise RefusedError(409, "already_closed", "有条目已被处理过，请刷新。 / Some items are already closed.")


async def close(
    store: Store, kind: str, ids: list[int], outcome: str, actor: str, entry_id: str | None, note: str | None
) -> list[int]:
    also = None
    if kind == "draft":  # the drafts' status changes with their outcome, in the same transaction
        status = "accepted" if outcome in ("added_question", "new_draft", "entry_updated") else "rejected"

        def also(db: sqlite3.Connection, closed: list[int]) -> None:
            helpdesk.settle_drafts(db, closed, status)

    return await store.close_items(kind, ids, outcome, actor, entry_id, note, also)


def _text(value: Any, name: str, limit: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RefusedError(400, f"bad_{name}", f"请填写{name}。 / {name} is required.")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise RefusedError(400, f"bad_{name}", f"{name} 最多 {limit} 个字。 / {name}: at most {limit} characters.")
    return value.strip()


routes = web.RouteTableDef()


@routes.get("/api/kb/worklists/unanswered")
async def get_unanswered(request: web.Request) -> web.Response:
    require(request, CURATION)
    return ok({"groups": await unanswered_groups(request.app[STORE]), "outcomes": OUTCOMES})


@routes.get("/api/kb/worklists/ratings")
async def get_ratings(request: web.Request) -> web.Response:
    require(request, CURATION)
    closed = request.query.get("closed") == "1"
    return ok(
        {
            "items": await bad_ratings(request.app[STORE], closed),
            "outcomes": OUTCOMES,
            "levels": ratings.LEVELS,
            "reasons": ratings.REASONS,
        }
    )


@routes.get("/api/kb/worklists/drafts")
async def get_drafts(request: web.Request) -> web.Response:
    require(request, CURATION)
    return ok({"items": await helper_drafts(request.app[STORE]), "outcomes": OUTCOMES})


@routes.get("/api/kb/worklists/wordings")
async def get_wordings(request: web.Request) -> web.Response:
    """Q&A entries without citizens' wordings (similar questions), by domain name and title."""
    require(request, CURATION)
    from knowledge_base.loader import domain_names

    names = domain_names()
    store = curation.curation_of(request.app).store
    items = [
        {"id": e.id, "title": e.question, "domain": e.domain, "domain_name": names.get(e.domain, e.domain)}
        for e in store.all("qa")
        if not getattr(e, "similar", None)
    ]
    items.sort(key=lambda item: (item["domain_name"], item["title"]))
    return ok({"items": items[:2000], "total": len(items)})


@routes.get("/api/kb/worklists/report")
async def get_report(request: web.Request) -> web.Response:
    require(request, CURATION)
    return ok(await follow_up_report(request.app[STORE]))


@routes.get("/api/kb/conversations/{conversation_id}")
async def get_transcript(request: web.Request) -> web.Response:
    require(request, CURATION)
    found = await transcript(request.app[STORE], request.match_info["conversation_id"])
    if found is None:
        raise RefusedError(404, "not_found", "没有这个会话。 / No such conversation.")
    return ok(found)


@routes.get("/api/kb/worklists/entries")
async def find_entries(request: web.Request) -> web.Response:
    """Entries to pick from when adding a wording: the knowledge base's own search."""
    require(request, CURATION)
    query = _text(request.query.get("q"), "q", MAX_TEXT)
    hits = await curation.curation_of(request.app).kb.search(query, top_k=8)
    return ok({"entries": [{"id": h.id, "kind": h.kind, "title": h.title} for h in hits]})


@routes.post("/api/kb/worklists/close")
async def post_close(request: web.Request) -> web.Response:
    session = require_changing(request, CURATION)
    body = await json_body(request)
    kind, ids = _item_ids(body)
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        raise RefusedError(400, "bad_outcome", "请选择处理结果。 / Unknown outcome.")
    note = _text(body.get("note"), "note", MAX_NOTE, required=False)
    entry_id = _text(body.get("entry_id"), "entry_id", MAX_TEXT, required=False)
    store = request.app[STORE]
    await _check_open(store, kind, ids)
    closed = await close(store, kind, ids, outcome, session.helper.name, entry_id, note)
    return ok({"closed": closed})


@routes.post("/api/kb/worklists/add-question")
async def post_add_question(request: web.Request) -> web.Response:
    """One click: the citizen's wording becomes a similar question of an entry, published at once."""
    session = require_changing(request, CURATION)
    body = await json_body(request)
    kind, ids = _item_ids(body)
    entry_id = _text(body.get("entry_id"), "entry_id", MAX_TEXT)
    wording = _text(body.get("text"), "text", MAX_TEXT)
    store = request.app[STORE]
    await _check_open(store, kind, ids)
    version = await curation.curation_of(request.app).add_similar_question(
        entry_id, wording, curation.actor_of(session)
    )  # a refusal (CurationError) is answered by the error middleware
    closed = await close(store, kind, ids, "added_question", session.helper.name, entry_id, wording)
    return ok({"closed": closed, "entry_id": entry_id, "version": version})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    staff_pages.add_page(app, "/kb/worklists", "worklists.html", CURATION)
