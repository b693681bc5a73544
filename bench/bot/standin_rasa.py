"""An instant stand-in for Rasa's REST channel, so the benchmark measures the bot service alone.

It answers every message at once with a reply shaped like the real assistant's (an answer text of a
few hundred characters, five quick replies, the `answer` payload).  It is for benchmarks only: the
test suites use the real Rasa.

    python -m bench.bot.standin_rasa --port 5999
"""

from __future__ import annotations

import argparse

from aiohttp import web

ANSWER = (
    "《个体工商户设立登记》的申请材料：\n"
    "1. 个体工商户登记（备案）申请书（现场填写）：网上申请时由系统生成，无需另交纸质件\n"
    "2. 经营者居民身份证（原件）\n"
    "3. 经营场所使用证明（房产证明或租赁合同）（复印件）：住宅改为经营用房的，还需提交业主委员会或相邻业主同意的证明\n"
    "4. 委托代理人身份证及授权委托书（原件）〔视情况提供〕：委托他人办理时提供\n"
    "依据：《个体工商户设立登记》办事指南（济阳区行政审批服务局）"
)
BUTTONS = [
    {"title": "受理条件", "payload": '/ask_element{"element":"conditions"}'},
    {"title": "办理时限", "payload": '/ask_element{"element":"time_limit"}'},
    {"title": "其他要素", "payload": "/ask_service"},
    {"title": "网上怎么办", "payload": "/start_walkthrough"},
    {"title": "转人工", "payload": "/request_human"},
]


async def webhook(request: web.Request) -> web.Response:
    body = await request.json()
    sender = body["sender"]
    return web.json_response(
        [
            {"recipient_id": sender, "text": ANSWER, "buttons": BUTTONS},
            {
                "recipient_id": sender,
                "custom": {
                    "type": "answer",
                    "entry_id": "guide.individual-business-registration",
                    "entry_title": "个体工商户设立登记",
                    "entry_kind": "guide",
                    "element": "materials",
                    "entry_version": 1,
                },
            },
        ]
    )


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello from the instant Rasa stand-in")


async def status(request: web.Request) -> web.Response:
    return web.json_response({"model_file": "standin", "num_active_training_jobs": 0})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/", hello)
    app.router.add_get("/status", status)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bot.standin_rasa", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
