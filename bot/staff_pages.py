"""The knowledge-base console's pages (/kb/…): static HTML behind the staff login.

Each module that owns a page registers it with `add_page`; the page's HTML and scripts live in
bot/kb_console/ and are served under /kb/static/.  A page checks the session only to decide where to
send the browser (the login page, or a 403 page for a role without access); the data behind it
comes from JSON routes that check the role again (bot.access).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from bot import access

PAGES_DIR = Path(__file__).resolve().parent / "kb_console"
STATIC_PREFIX = "/kb/static/"
FORBIDDEN_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>没有权限</title>
<p>您的账号没有打开这个页面的权限。<a href="/helpdesk/login?next=/kb/">换个账号登录</a></p></html>"""


def add_page(app: web.Application, path: str, filename: str, roles: frozenset[str]) -> None:
    """Serve bot/kb_console/`filename` at `path` to a logged-in staff member whose role is in `roles`."""
    file = PAGES_DIR / filename
    if not file.is_file():
        raise FileNotFoundError(file)

    async def page(request: web.Request) -> web.StreamResponse:
        session = access.current_session(request)
        if session is None:  # back to this very page after the login
            raise web.HTTPFound(f"/helpdesk/login?next={quote(request.path_qs, safe='/')}")
        if session.helper.role not in roles:
            return web.Response(status=403, text=FORBIDDEN_PAGE, content_type="text/html")
        return web.FileResponse(file, headers={"Cache-Control": "no-store"})

    app.router.add_get(path, page)
    _add_static(app)


def _add_static(app: web.Application) -> None:
    if not any(getattr(r, "canonical", None) == STATIC_PREFIX.rstrip("/") for r in app.router.resources()):
        app.router.add_static(STATIC_PREFIX, PAGES_DIR, name="kb-static", append_version=False)
