"""Which of the offered choices a typed reply picks: "2", "第二个", "后面那个", "最后一个", or a
part of a choice's title ("补办的那个").

Citizens answer a list the way they would answer a person, and the NLU, which sees one message
without the list, reads "2" or "最后一个" as anything (once as goodbye).  So wherever choices are
offered the actions keep them in the state and try this first.  Pure string work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_PUNCT = re.compile(r"[\s，。！？、,.!?；;：:~～…·\"'“”‘’（）()\[\]【】]+")
# Words around a choice that do not change it ("我选第二个吧", "就是那个补办的").
_FILLER = re.compile(
    r"^(?:我(?:想)?(?:选|要|问|看|说的是|问的是)?|选|要|就|就是|是|问|看看?|点)+|(?:吧|啊|呀|呢|哈|吗|嘛|的那个|那个|这个|那项|这项|的|就行|就好|了|要|需要|得|的话)+$"
)
_NUMBER = re.compile(r"^(?:第|选项|选)?([0-9]{1,2}|[一二两三四五六七八九十])(?:个|项|条|种|号|点)?$")
_FIRST = ("第一个", "头一个", "前面", "前一个", "上面", "前者", "第一项", "最前面", "最上面", "头一")
_LAST = ("最后一个", "最后一项", "最后", "最下面", "后面", "后一个", "下面", "后者", "末一个")
_MIDDLE = ("中间", "中间一个")
MAX_FRAGMENT_CHARS = 16  # a longer message is a new question, not a pick


def _normal(text: str) -> str:
    return _PUNCT.sub("", text.translate(_DIGITS)).strip()


def _core(text: str) -> str:
    """The choice words without filler ("我选第二个吧" -> "第二个")."""
    previous = None
    while previous != text:
        previous = text
        text = _FILLER.sub("", text)
    return text


def by_position(text: str, count: int) -> int | None:
    """0-based index named by a number or an ordinal, within `count` choices."""
    core = _core(_normal(text))
    if not core or count <= 0:
        return None
    match = _NUMBER.match(core)
    if match:
        raw = match.group(1)
        number = int(raw) if raw.isdigit() else _NUMERALS[raw]
        return number - 1 if 1 <= number <= count else None
    if core in _LAST or any(core.startswith(w) for w in _LAST if len(w) > 2):
        return count - 1
    if core in _FIRST:
        return 0
    if core in _MIDDLE and count == 3:
        return 1
    return None


def _common(a: str, b: str) -> int:
    """Length of the longest common substring."""
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] in b:
                best = j - i
            else:
                break
    return best


def by_text(text: str, titles: Sequence[str]) -> int | None:
    """The one title the text is part of (at least 2 characters in common, and clearly more than
    with any other title); None when it fits none or several equally."""
    core = _core(_normal(text))
    if len(core) < 2 or len(core) > MAX_FRAGMENT_CHARS:
        return None
    scores = [_common(core, _normal(t)) for t in titles]
    best = max(scores, default=0)
    if best < 2 or best < len(core) * 0.6 or scores.count(best) > 1:
        return None
    return scores.index(best)


def pick(text: str, titles: Sequence[str]) -> int | None:
    """The 0-based choice `text` names among `titles`, or None when it names none of them."""
    if not titles:
        return None
    index = by_position(text, len(titles))
    return index if index is not None else by_text(text, titles)
