"""好差评 as the national 政务服务好差评 system rates: five levels, a reason on the low ones.

A rating is a state on the message it rates (an answer from the knowledge base, or the notice that
ends a helper's conversation), never a message of its own.  Levels 1-2 (不满意, 非常不满意) are
差评: each becomes an item of the staff's 差评 worklist, due within RATING_FOLLOW_UP_DAYS, and is
closed with a 整改 outcome (bot/worklists.py).

Ratings stored before the five levels were binary: good reads as 满意 (4), bad as 不满意 (2);
the store migrates them once (bot/store.py).
"""

from __future__ import annotations

from typing import Any

# level -> label, best first (the order the widget shows them)
LEVELS: dict[int, str] = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
LOW = 2  # this level and below are 差评
LEGACY = {"good": 4, "bad": 2}
MAX_COMMENT = 300
FOLLOW_UP_DAYS = 15  # default RATING_FOLLOW_UP_DAYS: the 整改 period of a 差评

# reason code -> what the citizen reads; answers and helpers share one short list
REASONS: dict[str, str] = {
    "not_answered": "没有回答我的问题",
    "wrong": "内容不准确或已过时",
    "unclear": "看不懂，说得太复杂",
    "incomplete": "材料或步骤不全",
    "slow": "等待时间太长",
    "attitude": "服务态度不好",
    "other": "其他",
}

TARGETS = ("answer", "helper")


class RatingError(ValueError):
    """The rating cannot be taken as given; `code` names what is wrong."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def level_of(value: Any) -> int:
    """1-5 from an int, a digit string or the old good/bad."""
    if isinstance(value, str) and value in LEGACY:
        return LEGACY[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in LEVELS:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) in LEVELS:
        return int(value)
    raise RatingError("bad_rating", "评价等级应为 1-5。 / level must be 1-5.")


def is_low(level: int) -> bool:
    return level <= LOW


def binary(level: int) -> str:
    """The old two-valued summary kept in ratings.value: 基本满意 and above count as good."""
    return "bad" if is_low(level) else "good"


def check_reason(reason: Any, comment: Any) -> tuple[str | None, str | None]:
    """A known reason code (or none) and a short free text (or none)."""
    if reason in (None, ""):
        reason = None
    elif reason not in REASONS:
        raise RatingError("bad_reason", "请从列表中选择原因。 / Unknown reason.")
    if comment is None or (isinstance(comment, str) and not comment.strip()):
        return reason, None
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise RatingError("bad_comment", f"补充说明最多 {MAX_COMMENT} 个字。 / comment: at most {MAX_COMMENT} chars.")
    return reason, comment.strip()


def label(level: int | None) -> str:
    return LEVELS.get(level or 0, "")


def widget_json() -> dict[str, Any]:
    """What the widget needs to draw the control: the levels, the low ones, the reasons."""
    return {"levels": [[k, v] for k, v in LEVELS.items()], "low": LOW, "reasons": [[k, v] for k, v in REASONS.items()]}
