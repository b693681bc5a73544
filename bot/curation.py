"""The knowledge-base editor, review and version history over HTTP (JSON under /api/kb/) and the
console pages /kb/, /kb/edit, /kb/review, /kb/audit.  The rules live in knowledge_base.curation;
this module maps requests to it and checks roles (bot.access); its refusals (CurationError) become JSON
errors in the error middleware (bot/middlewares.py), like every other refusal.

Routes (every POST needs the session's X-CSRF-Token header; docs/curation.md has the details):

  GET  /api/kb/meta                               filter values and the editor's choice lists
  GET  /api/kb/entries?domain&kind&department&state&q&since&limit&offset
  GET  /api/kb/entries/{id}                       published content, open draft, archive state
  POST /api/kb/entries/{id}/draft    {data, base_version, expected_edit, note?}
  POST /api/kb/entries/{id}/submit   {expected_edit, note?}
  POST /api/kb/entries/{id}/withdraw {expected_edit}          (in review -> draft)
  POST /api/kb/entries/{id}/discard  {expected_edit}
  POST /api/kb/entries/{id}/similar  {text}                   (published at once, audited)
  POST /api/kb/entries/{id}/approve  {expected_edit, note?}   reviewers
  POST /api/kb/entries/{id}/reject   {expected_edit, reason}  reviewers
  POST /api/kb/entries/{id}/archive  {note?}                  reviewers
  POST /api/kb/entries/{id}/restore  {note?}                  reviewers
  POST /api/kb/entries/{id}/rollback {version, note?}         reviewers
  GET  /api/kb/entries/{id}/history
  GET  /api/kb/entries/{id}/diff?from=<version|draft>&to=<version|draft>
  GET  /api/kb/review                             the in-review queue with diffs
  GET  /api/kb/audit?entry&actor&action&before&limit
  POST /api/kb/preview               {question, data?}        the assistant's answer with the draft

Errors: {"error": {"code", "message", "details"?}}; a conflict's details hold what is stored now
({"published", "draft"}) and a validation error's details list {field, label, message}.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot import staff_pages
from bot.access import json_body, require, require_changing
from bot.auth import Session
from bot.logs import fields
from bot.responses import RefusedError, ok
from bot.shared.roles import CURATION, REVIEW

if TYPE_CHECKING:
    from knowledge_base.curation import Actor, Curation
    from knowledge_base.kb import KnowledgeBase

log = logging.getLogger(__name__)

API = "/api/kb"
MAX_QUESTION_CHARS = 200

routes = web.RouteTableDef()


# -- the knowledge base this service curates -------------------------------------------------------


class CurationHolder:
    """The knowledge base (KB_* settings: the same store the action server reads) and its curation,
    opened on first use: jieba and the search index are large, and a bot without staff never needs
    them.  Other staff modules use `curation_of(app)` too, so there is one of each per process."""

    def __init__(self) -> None:
        self.kb: KnowledgeBase | None = None
        self.curation: Curation | None = None

    def get(self) -> Curation:
        if self.curation is None:
            from knowledge_base import KnowledgeBase
            from knowledge_base.curation import Curation

            # An import of thousands of entries returns at once; their vectors follow in the background.
            self.kb = KnowledgeBase.open(background_vectors=True)
            self.curation = Curation(self.kb)
        return self.curation

    async def close(self) -> None:
        if self.kb is not None:
            await self.kb.close()
        self.kb = self.curation = None


CURATION_HOLDER = web.AppKey("kb_curation", CurationHolder)


def curation_of(app: web.Application) -> Curation:
    return app[CURATION_HOLDER].get()


def actor_of(session: Session) -> Actor:
    from knowledge_base.curation import Actor

    return Actor(session.helper.name, session.helper.role)


# -- request helpers -------------------------------------------------------------------------------


def _entry_id(request: web.Request) -> str:
    entry_id = request.match_info["entry_id"]
    if len(entry_id) > 120:
        raise RefusedError(400, "bad_id", "条目编号太长。 / Entry id too long.")
    return entry_id


def _int_or_none(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RefusedError(400, f"bad_{key}", f"{key} 应为整数。 / {key} must be an integer.")
    return value


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise RefusedError(400, f"bad_{key}", f"{key} 应为文字。 / {key} must be a string.")
    return value


def _audited(session: Session, action: str, entry_id: str) -> None:
    log.info("kb.curation", extra=fields(action=action, entry=entry_id, staff=session.helper.id))


# -- reading ---------------------------------------------------------------------------------------


@routes.get(f"{API}/meta")
async def meta(request: web.Request) -> web.Response:
    """Filter values in use and the editor's fixed choices (element labels, enumerations)."""
    require(request, CURATION)
    from knowledge_base.curation import FIELD_LABELS, LIST_LIMIT_MAX, MAX_LIST_ITEMS, MAX_TEXT_CHARS
    from knowledge_base.loader import domain_names
    from knowledge_base.models import (
        CROSS_REGION_SCOPES,
        CROSS_REGION_WAYS,
        ELEMENT_LABELS,
        EXEMPTION_WAYS,
        Guide,
        Material,
        OnlineService,
        Terminal,
    )

    def choices(model: Any, name: str) -> list[str]:
        field = model.__fields__[name]
        return list(getattr(field.type_, "__args__", ()))

    return ok(
        {
            **curation_of(request.app).facets(),
            "labels": FIELD_LABELS,
            "domain_names": domain_names(),
            "elements": ELEMENT_LABELS,
            "material_forms": choices(Material, "form"),
            "exemption_ways": list(EXEMPTION_WAYS),
            "cross_region_scopes": list(CROSS_REGION_SCOPES),
            "cross_region_ways": list(CROSS_REGION_WAYS),
            "terminal_types": choices(Terminal, "type"),
            "audiences": choices(Guide, "audience"),
            "platforms": choices(OnlineService, "platform"),
            **policy_choices(),
            "limits": {"text": MAX_TEXT_CHARS, "list": MAX_LIST_ITEMS, "page": LIST_LIMIT_MAX},
        }
    )


def policy_choices() -> dict[str, list[str]]:
    """The 惠企政策 editor's fixed lists (knowledge_base/models.py)."""
    from knowledge_base import models

    return {
        "policy_levels": list(models.POLICY_LEVELS),
        "enterprise_sizes": list(models.ENTERPRISE_SIZES),
        "industries": list(models.INDUSTRIES),
        "places": list(models.PLACES),
        "tax_credit_grades": list(models.TAX_CREDIT_GRADES),
        "qualifications": list(models.QUALIFICATIONS),
    }


@routes.get(f"{API}/entries")
async def list_entries(request: web.Request) -> web.Response:
    require(request, CURATION)
    from knowledge_base.curation import EntryFilter

    q = request.query
    try:
        limit, offset = int(q.get("limit", "50")), int(q.get("offset", "0"))
    except ValueError:
        raise RefusedError(400, "bad_page", "分页参数应为数字。 / limit and offset must be numbers.") from None
    query = EntryFilter(
        domain=q.get("domain") or None,
        kind=q.get("kind") or None,
        department=q.get("department") or None,
        state=q.get("state") or None,
        text=q.get("q") or None,
        changed_since=q.get("since") or None,
        limit=limit,
        offset=offset,
    )
    return ok(curation_of(request.app).list_entries(query))


@routes.get(API + "/entries/{entry_id}")
async def get_entry(request: web.Request) -> web.Response:
    require(request, CURATION)
    return ok(curation_of(request.app).get_entry(_entry_id(request)))


@routes.get(API + "/entries/{entry_id}/history")
async def history(request: web.Request) -> web.Response:
    require(request, CURATION)
    return ok(curation_of(request.app).history(_entry_id(request)))


@routes.get(API + "/entries/{entry_id}/diff")
async def diff(request: web.Request) -> web.Response:
    require(request, CURATION)
    before, after = request.query.get("from"), request.query.get("to")
    if not before or not after:
        raise RefusedError(400, "bad_versions", "请给出要比较的两个版本。 / from and to are required.")
    changes = curation_of(request.app).diff_versions(_entry_id(request), before, after)
    return ok({"changes": changes})


@routes.get(f"{API}/review")
async def review_queue(request: web.Request) -> web.Response:
    require(request, CURATION)
    return ok({"items": curation_of(request.app).review_queue()})


@routes.get(f"{API}/audit")
async def audit(request: web.Request) -> web.Response:
    require(request, CURATION)
    q = request.query
    try:
        limit = int(q.get("limit", "100"))
        before = int(q["before"]) if q.get("before") else None
    except ValueError:
        raise RefusedError(400, "bad_page", "分页参数应为数字。 / limit and before must be numbers.") from None
    items = curation_of(request.app).audit(
        entry_id=q.get("entry") or None,
        actor=q.get("actor") or None,
        action=q.get("action") or None,
        limit=limit,
        before_id=before,
    )
    # Staff read entries by title, not id (an archived or deleted entry keeps its id).
    ids = sorted({a["entry_id"] for a in items["items"] if a["entry_id"]})
    if ids:
        marks = ",".join("?" * len(ids))
        db = curation_of(request.app).store.connection()
        titles = dict(db.execute(f"SELECT id, title FROM entries WHERE id IN ({marks})", ids).fetchall())
        for a in items["items"]:
            a["entry_title"] = titles.get(a["entry_id"])
    return ok(items)


# -- changing --------------------------------------------------------------------------------------


@routes.post(API + "/entries/{entry_id}/draft")
async def save_draft(request: web.Request) -> web.Response:
    session = require_changing(request, CURATION)
    entry_id = _entry_id(request)
    body = await json_body(request)
    data = body.get("data")
    if not isinstance(data, dict):
        raise RefusedError(400, "bad_data", "缺少条目内容。 / data must be an object.")
    if data.get("id") != entry_id:
        raise RefusedError(400, "id_mismatch", "条目编号与地址不一致。 / data.id must match the URL.")
    revision = curation_of(request.app).save_draft(
        data,
        _int_or_none(body, "base_version"),
        _int_or_none(body, "expected_edit"),
        actor_of(session),
        _text(body, "note"),
    )
    _audited(session, "save_draft", entry_id)
    return ok({"draft": revision.to_dict()})


@routes.post(API + "/entries/{entry_id}/submit")
async def submit(request: web.Request) -> web.Response:
    session = require_changing(request, CURATION)
    body = await json_body(request)
    revision = curation_of(request.app).submit(
        _entry_id(request), _int_or_none(body, "expected_edit"), actor_of(session), _text(body, "note")
    )
    return ok({"draft": revision.to_dict()})


@routes.post(API + "/entries/{entry_id}/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    session = require_changing(request, CURATION)
    body = await json_body(request)
    revision = curation_of(request.app).withdraw_review(
        _entry_id(request), _int_or_none(body, "expected_edit"), actor_of(session)
    )
    return ok({"draft": revision.to_dict()})


@routes.post(API + "/entries/{entry_id}/discard")
async def discard(request: web.Request) -> web.Response:
    session = require_changing(request, CURATION)
    body = await json_body(request)
    curation_of(request.app).discard_draft(_entry_id(request), _int_or_none(body, "expected_edit"), actor_of(session))
    return ok({"ok": True})


@routes.post(API + "/entries/{entry_id}/similar")
async def add_similar(request: web.Request) -> web.Response:
    session = require_changing(request, CURATION)
    body = await json_body(request)
    entry_id = _entry_id(request)
    version = await curation_of(request.app).add_similar_question(
        entry_id, _text(body, "text") or "", actor_of(session)
    )
    _audited(session, "add_similar_question", entry_id)
    return ok({"version": version})


@routes.post(API + "/entries/{entry_id}/approve")
async def approve(request: web.Request) -> web.Response:
    session = require_changing(request, REVIEW)
    body = await json_body(request)
    entry_id = _entry_id(request)
    version = await curation_of(request.app).approve(
        entry_id, _int_or_none(body, "expected_edit"), actor_of(session), _text(body, "note")
    )
    _audited(session, "approve", entry_id)
    return ok({"version": version})


@routes.post(API + "/entries/{entry_id}/reject")
async def reject(request: web.Request) -> web.Response:
    session = require_changing(request, REVIEW)
    body = await json_body(request)
    revision = curation_of(request.app).reject(
        _entry_id(request), _int_or_none(body, "expected_edit"), actor_of(session), _text(body, "reason") or ""
    )
    return ok({"draft": revision.to_dict()})


@routes.post(API + "/entries/{entry_id}/archive")
async def archive(request: web.Request) -> web.Response:
    session = require_changing(request, REVIEW)
    body = await json_body(request)
    entry_id = _entry_id(request)
    await curation_of(request.app).archive(entry_id, actor_of(session), _text(body, "note"))
    _audited(session, "archive", entry_id)
    return ok({"ok": True})


@routes.post(API + "/entries/{entry_id}/restore")
async def restore(request: web.Request) -> web.Response:
    session = require_changing(request, REVIEW)
    body = await json_body(request)
    entry_id = _entry_id(request)
    version = await curation_of(request.app).restore(entry_id, actor_of(session), _text(body, "note"))
    _audited(session, "restore", entry_id)
    return ok({"version": version})


@routes.post(API + "/entries/{entry_id}/rollback")
async def rollback(request: web.Request) -> web.Response:
    session = require_changing(request, REVIEW)
    body = await json_body(request)
    entry_id = _entry_id(request)
    target = _int_or_none(body, "version")
    if target is None:
        raise RefusedError(400, "bad_version", "请选择要回滚到的版本。 / version is required.")
    version = await curation_of(request.app).rollback(entry_id, target, actor_of(session), _text(body, "note"))
    _audited(session, "rollback", entry_id)
    return ok({"version": version})


@routes.post(f"{API}/preview")
async def preview(request: web.Request) -> web.Response:
    """How the assistant would answer `question` with `data` (a draft) in place of its entry."""
    require_changing(request, CURATION)
    body = await json_body(request)
    question = _text(body, "question") or ""
    if not question.strip():
        raise RefusedError(400, "bad_question", "请输入要试问的问题。 / question is required.")
    if len(question) > MAX_QUESTION_CHARS:
        raise RefusedError(400, "bad_question", f"问题太长了，最多 {MAX_QUESTION_CHARS} 字。")
    data = body.get("data")
    if data is not None and not isinstance(data, dict):
        raise RefusedError(400, "bad_data", "草稿内容格式不对。 / data must be an object.")
    from bot.curation_preview import answer_preview
    from knowledge_base.curation import validate

    draft = validate(data) if data is not None else None
    return ok(answer_preview(curation_of(request.app).kb, question.strip(), draft))


# -- setup -----------------------------------------------------------------------------------------


async def _holder_ctx(app: web.Application) -> Any:
    yield
    await app[CURATION_HOLDER].close()


async def _to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/kb/")


def setup(app: web.Application) -> None:
    """Register the curation API and the console pages (bot/kb_console/)."""
    if CURATION_HOLDER not in app:
        app[CURATION_HOLDER] = CurationHolder()
        app.cleanup_ctx.append(_holder_ctx)
    app.add_routes(routes)
    app.router.add_get("/kb", _to_index)
    staff_pages.add_page(app, "/kb/", "index.html", CURATION)
    staff_pages.add_page(app, "/kb/edit", "edit.html", CURATION)
    staff_pages.add_page(app, "/kb/review", "review.html", CURATION)
    staff_pages.add_page(app, "/kb/audit", "audit.html", CURATION)
