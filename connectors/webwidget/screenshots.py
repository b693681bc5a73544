"""python -m connectors.webwidget.screenshots — the widget's screenshots for docs/widget.md.

Starts the bot service in this process (against a running Rasa), opens the demo portal in Debian's
Chromium, asks a real question and takes four pictures: desktop and phone, normal and 长辈模式.
Then the citizen asks for a person (the handoff card) and a helper claims and answers in the inbox:
docs/screenshots/widget-handoff.png, inbox-desktop.png (1366×768) and inbox-mobile.png.  The helper
ends, the citizen rates the help, and an admin opens the analytics page with what was just done:
analytics-desktop.png (1366×768, the whole page) and analytics-mobile.png.
A Chinese font must be installed for the text to render (Debian: fonts-wqy-microhei or
fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import create_app
from bot.config import REPO_ROOT, BotConfig

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWS = {
    "desktop": {"viewport": {"width": 1280, "height": 860}},
    "mobile": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m connectors.webwidget.screenshots", description=__doc__)
    parser.add_argument(
        "--rasa-url", default="http://127.0.0.1:5005", help="a running Rasa server (default %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots", help="where the PNGs go")
    parser.add_argument("--question", default="个体工商户设立登记要带什么材料？", help="what the citizen asks")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable (default %(default)s)")
    return parser.parse_args(argv)


async def take(args: argparse.Namespace) -> list[Path]:
    from playwright.async_api import async_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = Path(tempfile.mkdtemp(prefix="jsb-shots-"))
    config = BotConfig(host="127.0.0.1", port=port, rasa_url=args.rasa_url, data_dir=workdir).check()
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            written += await handoff_and_inbox(browser, f"http://127.0.0.1:{port}", runner.app, args)
            written += await analytics(browser, f"http://127.0.0.1:{port}", runner.app, args)
            for view, options in VIEWS.items():
                context = await browser.new_context(locale="zh-CN", **options)
                page = await context.new_page()
                await converse(page, f"http://127.0.0.1:{port}/", args.question)
                for elder in (False, True):
                    if elder:
                        await page.get_by_role("button", name="长辈模式").click()
                        await page.wait_for_timeout(300)
                    path = args.out / f"widget-{view}{'-elder' if elder else ''}.png"
                    await page.screenshot(path=str(path))
                    written.append(path)
                await context.close()
            await browser.close()
    finally:
        await runner.cleanup()
    return written


async def handoff_and_inbox(browser: Any, url: str, app: web.Application, args: argparse.Namespace) -> list[Path]:
    from bot import accounts
    from bot.keys import STORE

    password = secrets.token_urlsafe(16)
    accounts.create(app[STORE].db, "王芳", "helper", password)
    citizen = await (await browser.new_context(locale="zh-CN", **VIEWS["desktop"])).new_page()
    await converse(citizen, url + "/", args.question)
    box = citizen.get_by_label("输入您的问题")
    await box.fill("转人工")
    await box.press("Enter")
    card = citizen.get_by_role("log").locator(".queue-card")
    await card.wait_for(timeout=120_000)
    await card.scroll_into_view_if_needed()
    shots = [args.out / "widget-handoff.png"]
    await citizen.screenshot(path=str(shots[0]))

    helper = await (await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})).new_page()
    await helper.goto(url + "/helpdesk/login")
    await helper.get_by_label("用户名").fill("王芳")
    await helper.get_by_label("密码").fill(password)
    await helper.get_by_role("button", name="登录").click()
    await helper.get_by_text("已连接").wait_for()
    await helper.get_by_role("list", name="排队中的会话").get_by_role("button").first.click()
    await helper.get_by_role("button", name="接手").click()
    await helper.get_by_label("回复内容").fill("您好，我是帮办人员王芳。材料清单里的“经营场所证明”可以用租赁合同代替。")
    await helper.get_by_label("回复内容").press("Enter")
    await citizen.get_by_role("log").locator(".msg.helper").wait_for()
    await box.fill("好的，谢谢！租赁合同要原件吗？")
    await box.press("Enter")
    await helper.get_by_role("log", name="会话记录").get_by_text("租赁合同要原件吗", exact=False).wait_for()
    await helper.get_by_label("内部备注（群众看不到）").fill("群众准备明天上午到大厅办理")
    await helper.get_by_role("button", name="添加备注").click()
    await helper.get_by_role("list", name="内部备注").get_by_text("明天上午", exact=False).wait_for()
    shots.append(args.out / "inbox-desktop.png")
    await helper.screenshot(path=str(shots[-1]))
    await citizen.screenshot(path=str(args.out / "widget-helper.png"))
    shots.append(args.out / "widget-helper.png")
    phone = await (await browser.new_context(locale="zh-CN", **VIEWS["mobile"])).new_page()
    await phone.goto(url + "/helpdesk/login")
    await phone.get_by_label("用户名").fill("王芳")
    await phone.get_by_label("密码").fill(password)
    await phone.get_by_role("button", name="登录").click()
    await phone.get_by_text("已连接").wait_for()
    shots.append(args.out / "inbox-mobile.png")
    await phone.screenshot(path=str(shots[-1]))
    # The helper hands back; the citizen rates the help (it shows on the analytics page).
    await helper.get_by_role("button", name="结束并交还智能助手").click()
    rating = citizen.get_by_role("group", name="评价这次人工帮办")
    await rating.get_by_role("button", name=re.compile("^非常满意")).click()
    await citizen.get_by_text("已评价：非常满意").wait_for()
    return shots


async def analytics(browser: Any, url: str, app: web.Application, args: argparse.Namespace) -> list[Path]:
    from bot import accounts
    from bot.keys import STORE

    password = secrets.token_urlsafe(16)
    accounts.create(app[STORE].db, "李主任", "admin", password)
    shots = []
    for view, options in (("desktop", {"viewport": {"width": 1366, "height": 768}}), ("mobile", VIEWS["mobile"])):
        page = await (await browser.new_context(locale="zh-CN", **options)).new_page()
        await page.goto(url + "/helpdesk/login?next=/kb/analytics")
        await page.get_by_label("用户名").fill("李主任")
        await page.get_by_label("密码").fill(password)
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_url(url + "/kb/analytics")
        await page.locator("figure[data-chart='volume_by_day'] svg").first.wait_for()
        await page.wait_for_timeout(800)  # the charts' entry animation
        shots.append(args.out / f"analytics-{view}.png")
        await page.screenshot(path=str(shots[-1]), full_page=view == "desktop")
    return shots


async def converse(page: Any, url: str, question: str) -> None:
    await page.goto(url)
    await page.get_by_role("button", name="打开政务服务智能助手").click()
    box = page.get_by_label("输入您的问题")
    await box.fill(question)
    await box.press("Enter")
    # The answer is the message that carries the five 好差评 levels.
    await page.locator(".rating").first.wait_for(timeout=120_000)
    await page.wait_for_timeout(500)
    # The question and the start of the answer (the welcome above them is scrolled away).
    question = page.get_by_role("log").locator(".msg.mine").last
    await question.evaluate("el => el.scrollIntoView({block: 'start'})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for path in asyncio.run(take(args)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
