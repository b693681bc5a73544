"""Who may do what on the staff side: one login for every staff account, and a role check per route.

The roles and the sets of them that open each part are in bot/shared/roles.py (the curation
workflow checks the same sets); routes name a set, never a role.  A request
without a live session gets 401, a session whose role is outside the set gets 403, and a
state-changing request without the session's CSRF token gets 403; in each case nothing changes.
Refusals are RefusedError (bot/responses.py), answered by the error middleware.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import auth
from bot.auth import Session
from bot.inputs import read_json
from bot.keys import STORE
from bot.responses import RefusedError

LOGIN_REQUIRED = RefusedError(401, "login_required", "请先登录。 / Please log in.")
CSRF_FAILED = RefusedError(403, "csrf", "页面已过期，请刷新后重试。 / Missing or wrong CSRF token.")
FORBIDDEN = RefusedError(403, "forbidden", "您的账号没有这项权限。 / Your role may not do this.")


def current_session(request: web.Request) -> Session | None:
    return auth.find_session(request.app[STORE].db, request.cookies.get(auth.COOKIE))


def require(request: web.Request, roles: frozenset[str]) -> Session:
    """A live session whose role is in `roles` (401 without a session, 403 with another role)."""
    session = current_session(request)
    if session is None:
        raise LOGIN_REQUIRED
    if session.helper.role not in roles:
        raise FORBIDDEN
    return session


def require_changing(request: web.Request, roles: frozenset[str]) -> Session:
    """As `require`, for a state-changing request: the session's CSRF token must come with it."""
    session = require(request, roles)
    if not auth.csrf_ok(session, request.headers.get(auth.CSRF_HEADER)):
        raise CSRF_FAILED
    return session


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a clear 4xx refusal."""
    if request.content_type != "application/json":
        raise RefusedError(415, "unsupported_media_type", "请用 JSON 格式。 / Send JSON.")
    body = await read_json(request)  # BadInputError is a RefusedError
    if not isinstance(body, dict):
        raise RefusedError(400, "invalid_json", "请求体必须是 JSON 对象。 / The body must be a JSON object.")
    return body
