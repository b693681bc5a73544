"""Web widget: static JS/CSS (no build step, no CDN), the demo portal page and the widget's websocket.

<script src="https://<bot-service>/widget/widget.js" defer></script>   (see docs/widget.md)
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot import texts
from bot.keys import CHANNELS, CONFIG, SERVICE
from bot.responses import json_error
from connectors.webwidget import guide_page
from connectors.webwidget.channel import WidgetChannel
from connectors.webwidget.socket import MAX_FRAME_BYTES, WidgetSession, origin_allowed

STATIC_DIR = Path(__file__).resolve().parent / "static"
WIDGET = web.AppKey("webwidget", WidgetChannel)

routes = web.RouteTableDef()


@routes.get("/")
async def demo_portal(request: web.Request) -> web.FileResponse:
    """A demo 政务服务 portal page with the widget embedded, the way a real portal would do it."""
    return web.FileResponse(STATIC_DIR / "demo.html", headers={"Cache-Control": "no-cache"})


@routes.get("/favicon.ico")
async def favicon(request: web.Request) -> web.FileResponse:
    """The 济时办 speech bubble for the portal demo, the widget's pages and the staff consoles."""
    return web.FileResponse(STATIC_DIR / "favicon.ico", headers={"Cache-Control": "public, max-age=86400"})


@routes.get("/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    if not origin_allowed(config, request):
        return json_error(403, "origin_not_allowed", texts.ORIGIN_NOT_ALLOWED)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    session = WidgetSession(ws, request.app[SERVICE], request.app[WIDGET], config, request)
    await session.run()
    return ws


async def _close_sockets(app: web.Application) -> None:
    """on_shutdown: tell every widget we are going away (1001); they reconnect to the next instance."""
    await app[WIDGET].close_all(code=1001, message=b"server shutting down")


def setup(app: web.Application) -> None:
    channel = WidgetChannel()
    app[WIDGET] = channel
    app[CHANNELS].register(channel)
    app.add_routes(routes)
    app.router.add_static("/widget/", STATIC_DIR, name="widget-static", append_version=False)
    app.on_shutdown.append(_close_sockets)
    guide_page.setup(app)  # the full 办事指南 page the widget links to
