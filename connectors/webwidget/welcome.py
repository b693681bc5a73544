"""What the widget shows when it opens: a greeting, 猜你想问, the helpers' hours and the 12345 hotline.

The hot questions are curated here for now (the most asked 济阳 services in bench/ and the KB);
once analytics has enough real traffic they can come from the most asked questions instead.
"""

from __future__ import annotations

import functools
from typing import Any

from bot.config import BotConfig
from bot.service_hours import ServiceHours

GREETING = "您好！我是济阳区政务服务智能助手“济时办”，可以帮您查办事指南、材料、费用、办理地点，也能帮您转人工帮办。"
HOT_QUESTIONS = (
    "个体工商户设立登记要带什么材料？",
    "出生一件事怎么办？",
    "无犯罪记录证明怎么开？",
    "租房怎么提取住房公积金？",
    "济阳区政务服务中心在哪里？",
)
HOTLINE = "12345"


@functools.lru_cache(maxsize=4)
def _hours_label(hours: str, zone: str) -> str:
    return ServiceHours.parse(hours, zone).label()


def welcome_intro(config: BotConfig) -> dict[str, Any]:
    return {
        "greeting": GREETING,
        "hot_questions": list(HOT_QUESTIONS),
        "hours": _hours_label(config.helpdesk_hours, config.helpdesk_timezone),
        "hotline": HOTLINE,
    }
