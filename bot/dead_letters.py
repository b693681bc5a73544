"""Answers that never reached the citizen: the dead-letter list for admins.

A channel that refuses a send (Telegram down, a chat that no longer exists) gets the answer again
with a growing wait; after bot.service.DELIVERY_ATTEMPTS tries the message stops being retried and
is listed here.  Admins only; the text is masked (it is someone's conversation).

  GET /api/admin/dead-letters   {"items": [{seq, conversation_id, channel, text, attempts, created_at}]}
"""

from __future__ import annotations

from aiohttp import web

from bot.access import require
from bot.keys import STORE
from bot.responses import ok
from bot.shared.masking import mask
from bot.shared.roles import ADMIN

routes = web.RouteTableDef()


@routes.get("/api/admin/dead-letters")
async def list_dead_letters(request: web.Request) -> web.Response:
    require(request, ADMIN)
    items = await request.app[STORE].dead_letters()
    return ok({"items": [{**item, "text": mask(item["text"])} for item in items]})


def setup(app: web.Application) -> None:
    app.add_routes(routes)
