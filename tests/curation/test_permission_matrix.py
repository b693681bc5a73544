"""Every staff route × every role (anonymous included) against one expected table.

The routes are read from the created application's router, so a route added without a row in
EXPECTED fails this test: whoever adds a staff route adds its row here (docs/curation.md).
A request is *allowed* when the role gate lets it through (whatever the handler then says about
the body: 400, 404, 409 …); *refused* is 401 login_required for the anonymous and 403 forbidden
for another role on JSON routes, the login redirect or a 403 page on console pages.
"""

from __future__ import annotations

import re
from typing import Any

from curation_helpers import ACCOUNTS, GUIDE_ID

PUBLIC = "public"
STAFF = frozenset({"helper", "editor", "reviewer", "admin"})
HELPDESK = frozenset({"helper", "admin"})
CURATION = frozenset({"editor", "reviewer", "admin"})
REVIEW = frozenset({"reviewer", "admin"})
ANALYTICS = frozenset({"reviewer", "admin"})

EXPECTED: dict[tuple[str, str], Any] = {
    # 在线帮办 (bot/helpdesk.py)
    ("POST", "/api/helpdesk/login"): PUBLIC,
    ("POST", "/api/helpdesk/logout"): STAFF,
    ("GET", "/api/helpdesk/me"): STAFF,
    ("POST", "/api/helpdesk/presence"): HELPDESK,
    ("GET", "/api/helpdesk/queue"): HELPDESK,
    ("GET", "/api/helpdesk/conversations/{conversation_id}"): HELPDESK,
    ("POST", "/api/helpdesk/conversations/{conversation_id}/claim"): HELPDESK,
    ("POST", "/api/helpdesk/conversations/{conversation_id}/messages"): HELPDESK,
    ("POST", "/api/helpdesk/conversations/{conversation_id}/drafts"): HELPDESK,
    ("POST", "/api/helpdesk/conversations/{conversation_id}/notes"): HELPDESK,
    ("POST", "/api/helpdesk/conversations/{conversation_id}/end"): HELPDESK,
    ("POST", "/api/helpdesk/conversations/{conversation_id}/transfer"): HELPDESK,
    ("GET", "/api/helpdesk/kb"): HELPDESK,
    ("GET", "/api/helpdesk/canned"): HELPDESK,
    ("GET", "/api/helpdesk/ws"): HELPDESK,
    ("GET", "/helpdesk/login"): PUBLIC,
    ("GET", "/helpdesk/"): HELPDESK,
    ("GET", "/helpdesk"): PUBLIC,  # a redirect to /helpdesk/
    ("GET", "/helpdesk/static"): PUBLIC,  # scripts and styles, no data
    # knowledge-base editor, review, versions (bot/curation.py)
    ("GET", "/api/kb/meta"): CURATION,
    ("GET", "/api/kb/entries"): CURATION,
    ("GET", "/api/kb/entries/{entry_id}"): CURATION,
    ("GET", "/api/kb/entries/{entry_id}/history"): CURATION,
    ("GET", "/api/kb/entries/{entry_id}/diff"): CURATION,
    ("GET", "/api/kb/review"): CURATION,
    ("GET", "/api/kb/audit"): CURATION,
    ("POST", "/api/kb/entries/{entry_id}/draft"): CURATION,
    ("POST", "/api/kb/entries/{entry_id}/submit"): CURATION,
    ("POST", "/api/kb/entries/{entry_id}/withdraw"): CURATION,
    ("POST", "/api/kb/entries/{entry_id}/discard"): CURATION,
    ("POST", "/api/kb/entries/{entry_id}/similar"): CURATION,
    ("POST", "/api/kb/preview"): CURATION,
    ("POST", "/api/kb/entries/{entry_id}/approve"): REVIEW,
    ("POST", "/api/kb/entries/{entry_id}/reject"): REVIEW,
    ("POST", "/api/kb/entries/{entry_id}/archive"): REVIEW,
    ("POST", "/api/kb/entries/{entry_id}/restore"): REVIEW,
    ("POST", "/api/kb/entries/{entry_id}/rollback"): REVIEW,
    ("GET", "/kb"): PUBLIC,  # a redirect to /kb/
    ("GET", "/kb/"): CURATION,
    ("GET", "/kb/edit"): CURATION,
    ("GET", "/kb/review"): CURATION,
    ("GET", "/kb/audit"): CURATION,
    ("GET", "/kb/static"): PUBLIC,
    # worklists, import/export, retrain (bot/worklists.py, bot/kb_transfer.py, bot/retrain.py)
    ("GET", "/api/kb/worklists/unanswered"): CURATION,
    ("GET", "/api/kb/worklists/ratings"): CURATION,
    ("GET", "/api/kb/worklists/drafts"): CURATION,
    ("GET", "/api/kb/worklists/report"): CURATION,
    ("GET", "/api/kb/worklists/wordings"): CURATION,
    ("GET", "/api/kb/transfer/template"): CURATION,
    ("GET", "/api/kb/worklists/entries"): CURATION,
    ("GET", "/api/kb/conversations/{conversation_id}"): CURATION,
    ("POST", "/api/kb/worklists/close"): CURATION,
    ("POST", "/api/kb/worklists/add-question"): CURATION,
    ("POST", "/api/kb/transfer/check"): CURATION,
    ("POST", "/api/kb/transfer/commit"): REVIEW,
    ("GET", "/api/kb/transfer/facets"): CURATION,
    ("GET", "/api/kb/transfer/export"): CURATION,
    ("GET", "/api/kb/transfer/vectors"): CURATION,  # the sentence vectors' encoding progress
    ("GET", "/api/kb/training"): REVIEW,
    ("POST", "/api/kb/training/run"): REVIEW,
    ("GET", "/kb/worklists"): CURATION,
    ("GET", "/kb/transfer"): CURATION,
    ("GET", "/kb/training"): REVIEW,
    # staff analytics (bot/analytics.py)
    ("GET", "/api/kb/analytics"): ANALYTICS,
    ("GET", "/api/kb/analytics/export"): ANALYTICS,
    ("GET", "/kb/analytics"): ANALYTICS,
}

PREFIXES = ("/api/kb", "/kb", "/api/helpdesk", "/helpdesk")
SAMPLE_VALUES = {"entry_id": GUIDE_ID, "conversation_id": "no-such-conversation"}
STATIC_FILES = {"/kb/static": "/kb/static/staff.js", "/helpdesk/static": "/helpdesk/static/console.js"}
GATE_CODES = {"login_required", "forbidden", "csrf"}


def staff_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or not path.startswith(PREFIXES):
            continue  # HEAD mirrors GET (aiohttp adds it to every add_get)
        found.add((route.method, path))
    return found


def concrete(path: str) -> str:
    if path in STATIC_FILES:
        return STATIC_FILES[path]
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_VALUES[m.group(1)], path)


async def call(client: Any, method: str, path: str) -> tuple[int, str | None, str]:
    """(status, error code or None, Location header)."""
    headers = {"X-CSRF-Token": client.csrf} if client.csrf else {}
    body = {"name": "nobody", "password": "wrong password"} if path.endswith("/login") else {}
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if method == "POST":
        kwargs["json"] = body
    async with client.http.request(method, client.base_url + path, **kwargs) as response:
        code = None
        if response.content_type == "application/json":
            data = await response.json()
            code = (data.get("error") or {}).get("code") if isinstance(data, dict) else None
        return response.status, code, response.headers.get("Location", "")


def verdict(path: str, status: int, code: str | None, location: str) -> str:
    if code in GATE_CODES or (status == 401 and code is None):
        return "refused"  # (a wrong password is 401 bad_login: the login route itself let it through)
    if not path.startswith("/api/"):  # pages: the login redirect or the 403 page refuse
        if status == 403 or (status == 302 and location.startswith("/helpdesk/login")):
            return "refused"
        if status == 302 and path.startswith("/helpdesk/") and location == "/kb/":
            return "refused"  # the helpers' console sends KB staff to their own console
    return "allowed"


async def test_every_staff_route_has_a_row(curation_bot: Any) -> None:
    routes = staff_routes(curation_bot.app)
    missing = sorted(routes - set(EXPECTED))
    stale = sorted(set(EXPECTED) - routes)
    assert not missing, f"routes without a row in EXPECTED (add them): {missing}"
    assert not stale, f"rows in EXPECTED for routes that do not exist: {stale}"


async def test_permission_matrix(curation_bot: Any, staff: Any) -> None:
    names = {role: name for name, role in ACCOUNTS.items()}  # one account per role
    clients = {None: await staff(curation_bot, None)}
    for role in ("helper", "editor", "reviewer", "admin"):
        clients[role] = await staff(curation_bot, names[role])
    # Routes without a row fail test_every_staff_route_has_a_row; logout goes last.
    routes = sorted(staff_routes(curation_bot.app) & set(EXPECTED), key=lambda r: (r[1].endswith("/logout"), r))
    wrong = []
    for method, pattern in routes:
        allowed = EXPECTED[(method, pattern)]
        path = concrete(pattern)
        for role, client in clients.items():
            should = "allowed" if allowed == PUBLIC or (role is not None and role in allowed) else "refused"
            status, code, location = await call(client, method, path)
            got = verdict(path, status, code, location)
            if got != should:
                wrong.append(f"{role or 'anonymous'} {method} {pattern}: expected {should}, got {status} {code}")
    assert not wrong, "\n".join(wrong)


async def test_state_changes_need_the_csrf_token(curation_bot: Any, staff: Any) -> None:
    admin = await staff(curation_bot, "管理员")
    for method, pattern in sorted(staff_routes(curation_bot.app) & set(EXPECTED)):
        if method != "POST" or EXPECTED[(method, pattern)] == PUBLIC:
            continue
        async with admin.http.post(curation_bot.url + concrete(pattern), json={}) as response:
            body = await response.json()
        assert response.status == 403 and body["error"]["code"] == "csrf", (pattern, response.status, body)
