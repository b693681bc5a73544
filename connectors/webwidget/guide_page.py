"""The full 办事指南 page, /guides/{entry_id}: what the widget links to under an answer.

An answer in the chat is one element (材料, 费用, 网上怎么办…); the citizen can open the whole guide
from the knowledge base the assistant answers from, with the 网上办理 entry (`#online`).  Every text
is escaped; the page has no script and uses the widget's CSP-friendly stylesheet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import escape
from typing import Any

from aiohttp import web

from knowledge_base import crossregion
from knowledge_base.models import Guide

NOT_FOUND = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>没有找到办事指南</title>
<link rel="stylesheet" href="/widget/guide.css"><main class="guide"><h1>没有找到这份办事指南</h1>
<p>它可能已经调整或下线。请回到咨询窗口重新提问，或拨打政务服务便民热线 12345。</p></main></html>"""


class GuideSource:
    """The knowledge base, opened on first use (KB_* settings), closed with the app."""

    def __init__(self) -> None:
        self._knowledge: Any = None

    def guide(self, entry_id: str) -> Guide | None:
        if self._knowledge is None:
            from knowledge_base import KnowledgeBase  # a large import: only when a guide is opened

            self._knowledge = KnowledgeBase.open()
        entry = self._knowledge.get(entry_id)
        return entry if isinstance(entry, Guide) else None

    async def close(self) -> None:
        if self._knowledge is not None:
            await self._knowledge.close()


GUIDES = web.AppKey("guide_source", GuideSource)


def _items(values: list[str]) -> str:
    return "".join(f"<li>{escape(value)}</li>" for value in values)


def render(guide: Guide) -> str:
    """The guide as a page; every value escaped."""
    materials = "".join(
        f"<li><strong>{escape(m.name)}</strong>（{escape(m.form)}，{m.count} 份{'' if m.required else '，选交'}）"
        f"{'<br><small>' + escape(m.note) + '</small>' if m.note else ''}</li>"
        for m in guide.materials
    )
    process = "".join(
        f"<li><strong>{escape(step.title)}</strong>{'：' + escape(step.detail) if step.detail else ''}</li>"
        for step in guide.process
    )
    fee = escape(guide.fee.standard) + (f"（依据：{escape(guide.fee.basis)}）" if guide.fee.basis else "")
    where = guide.location
    online = ""
    if guide.online is not None:
        link = (
            f'<p><a href="{escape(guide.online.url)}" rel="noopener noreferrer">打开在线办理入口</a></p>'
            if guide.online.url and guide.online.url.startswith(("https://", "http://"))
            else ""
        )
        online = (
            f'<section id="online"><h2>网上办理</h2><p>平台：{escape(guide.online.platform)}；'
            f"入口：{escape(guide.online.entry)}</p>{link}<ol>{_items(guide.online.steps)}</ol></section>"
        )
    cross_region = _items([crossregion.describe(scope) for scope in guide.cross_region])
    faq = "".join(f"<dt>{escape(q.question)}</dt><dd>{escape(q.answer)}</dd>" for q in guide.faq)
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(guide.title)} · 办事指南 · 济时办</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="/widget/guide.css">
</head>
<body>
<header class="bar">济时办 · 办事指南</header>
<main class="guide">
<h1>{escape(guide.title)}</h1>
<p class="meta">事项编码 {escape(guide.code)} · {escape(guide.type)} · 实施机构：{escape(guide.department)} ·
服务对象：{escape("、".join(guide.audience))}</p>
<p class="summary">{escape(guide.summary)}</p>
<section><h2>受理条件</h2><ul>{_items(guide.conditions)}</ul></section>
<section><h2>申请材料</h2><ul>{materials}</ul></section>
<section><h2>办理流程</h2><ol>{process}</ol></section>
<section><h2>办理时限</h2><p>法定时限：{escape(guide.time_limit.legal)}；承诺时限：{escape(guide.time_limit.promised)}</p></section>
<section><h2>收费标准</h2><p>{fee}</p></section>
<section><h2>办理地点</h2><p>{escape(where.hall)}，{escape(where.address)}<br>
办公时间：{escape(where.hours)}<br>咨询电话：{escape(where.phone)}</p></section>
{online}
{f'<section id="cross-region"><h2>跨域通办</h2><ul>{cross_region}</ul></section>' if cross_region else ""}
<section><h2>设定依据</h2><ul>{_items(guide.legal_basis)}</ul></section>
{f"<section><h2>常见问题</h2><dl>{faq}</dl></section>" if faq else ""}
<p class="help">还有疑问？回到咨询窗口继续提问，或拨打政务服务便民热线 <a href="tel:12345">12345</a>。</p>
</main>
</body>
</html>"""


async def guide_page(request: web.Request) -> web.Response:
    guide = request.app[GUIDES].guide(request.match_info["entry_id"])
    if guide is None:
        return web.Response(status=404, text=NOT_FOUND, content_type="text/html")
    return web.Response(text=render(guide), content_type="text/html", headers={"Cache-Control": "no-cache"})


async def _guides_ctx(app: web.Application) -> AsyncIterator[None]:
    app[GUIDES] = GuideSource()
    yield
    await app[GUIDES].close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_guides_ctx)
    app.router.add_get("/guides/{entry_id}", guide_page)
