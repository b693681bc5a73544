"""跨域通办 in conversation: telling a "can I do it elsewhere?" question from others, and the
first line of the answer when the citizen named where they are ("我在北京工作能在那边办吗").

The answer itself is the guide's `cross_region` element (knowledge_base/crossregion.py), so it is
asked, followed up ("那在外地能办不") and clarified like any other element.
"""

from __future__ import annotations

import re

from knowledge_base import crossregion
from knowledge_base.models import Guide

from . import knowledge

# Words that ask whether the matter can be done away from 济阳 ("回不来" alone is not one: "有个兄弟在
# 国外回不来咋整" asks how an heir who cannot come is represented).
ELSEWHERE = re.compile(
    r"(外地|异地|跨省|外省|省外|跨市|通办|在那边|那边能|那边办|在当地|当地能|当地办|不在济阳|不在本地|"
    r"不用回|非得回|必须回|得回|要回(?:济阳|老家|来)|在外面打工|在外打工)"
)
# Words that ask whether something can be done (with a place outside 济阳 named).
CAN_DO = re.compile(r"(能办|能不能办|可以办|能在|可以在|办得了|办不了|能弄|能去|办吗|办不|办嘛|行不行|行吗)")
# "在济阳办" / "回济阳办" name 济阳 as where to do it: not a question about elsewhere.
HERE = re.compile(r"(?:在|到|回)济阳(?:办|能办|可以办)")
MIN_NAME_CHARS = 3


def _without_guide_names(text: str) -> str:
    """The text without the guides' names that hold such words (异地就医备案, 住房公积金异地转移接续)."""
    for name in sorted(knowledge.names().guides_by_title, key=len, reverse=True):
        if len(name) >= MIN_NAME_CHARS and name in text:
            text = text.replace(name, " ")
    return text


def asked(text: str) -> bool:
    """Whether the message asks if the matter can be done elsewhere than 济阳."""
    text = "".join(text.split())
    rest = _without_guide_names(text)
    if HERE.search(rest):
        return False
    if ELSEWHERE.search(rest):
        return True
    return crossregion.place_in(rest) is not None and bool(CAN_DO.search(rest))


def without_places(text: str) -> str:
    """The text without the places outside 济阳 it names."""
    return crossregion.without_places(text)


def lead(guide: Guide, text: str) -> str | None:
    """ "在北京可以办：…" when the message names a place outside 济阳, else None."""
    place = crossregion.place_in(_without_guide_names("".join(text.split())))
    return crossregion.verdict(guide, place) if place is not None else None
