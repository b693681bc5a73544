"""Messages the assistant cannot read at all: keyboard mash, other languages, pinyin.

The NLU always names some intent, and on text unlike anything it was trained on the nearest one is
often small talk ("asdfgh" -> thanks -> "不客气！").  These checks run before any intent is
acted on, on the characters alone, so such messages get "没听明白" and what the assistant can do.
Chinese text is never judged here (the NLU and the search handle it).  Digits and punctuation
alone ("123456789", "？？？？") are unreadable too — the NLU read "123456789" as goodbye — but
only after the router has tried them as a pick of an offered choice ("2").
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

Kind = Literal["chinese", "pinyin", "english", "foreign", "mash", "other"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_OTHER_SCRIPT = re.compile(
    r"[\u0400-\u04ff\u0600-\u06ff\u0e00-\u0e7f\u0900-\u097f]"
)  # Cyrillic, Arabic, Thai, Devanagari
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# Nothing but digits, punctuation and blanks (emoji and other symbols are left to the NLU: "👍").
_DIGITS_PUNCT = re.compile(
    r"^[\s0-9\uff10-\uff19!-/:-@\[-`{-~\u2018-\u201f\u2026\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]+$"
)

_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z", "c", "s")
_FINALS = (
    "a o e ai ei ao ou an en ang eng ong er i ia ie iao iu ian in iang ing iong u ua uo uai ui uan un uang ueng "
    "v ve van vn ue uan"
).split()
_STANDALONE = set(
    "a o e ai ei ao ou an en ang eng er yi ya ye yao you yan yin yang ying yong wu wa wo wai wei wan "
    "wen wang weng yu yue yuan yun".split()
)
# Common English words: two of them (or one long one) make a message English rather than mash.
_ENGLISH = frozenset(
    (
        "the a an is are am was be to of and or in on at for with how what where when who why which can could "
        "i you he she we they my your me do does did not no yes hello hi hey thanks thank please help need want "
        "get apply id card passport license licence business office open hours time cost fee money address "
        "phone number where's what's how's english speak chinese service services register registration "
        "social security insurance tax car house school child children birth marriage visa work job ok okay bye "
        "good thx"
    ).split()
)


# A Latin yes / no answers an offer; it is not unreadable.
_YES_NO = frozenset("ok okay yes no y n yep nope hao dui shi bu buyong".split())


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    out = set(_STANDALONE)
    for initial in _INITIALS:
        for final in _FINALS:
            out.add(initial + final)
    return frozenset(out)


def is_pinyin(word: str) -> bool:
    """Whether a Latin word splits fully into pinyin syllables ("shenfenzheng", "zenme")."""
    word = word.lower()
    syllables = _syllables()
    reachable = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        reachable[end] = any(reachable[start] and word[start:end] in syllables for start in range(max(0, end - 6), end))
    return reachable[-1]


def kind(text: str) -> Kind:
    """What script and shape a message has."""
    if _CJK.search(text):
        return (
            "foreign"
            if _KANA_HANGUL.search(text) and len(_KANA_HANGUL.findall(text)) > len(_CJK.findall(text))
            else "chinese"
        )
    if _KANA_HANGUL.search(text) or _OTHER_SCRIPT.search(text):
        return "foreign"
    words = [w.lower() for w in _LATIN_WORD.findall(text)]
    if not words and _DIGITS_PUNCT.match(text):
        return "mash"
    if not words or (len(words) == 1 and words[0] in _YES_NO):
        return "other"  # digits, punctuation, emoji: left to the choices and the usual flow
    english = [w for w in words if w in _ENGLISH]
    if len(english) >= 2 or (len(english) == 1 and len(words) <= 2 and len(english[0]) >= 4):
        return "english"
    if all(is_pinyin(w) for w in words) and sum(len(w) for w in words) >= 4:
        return "pinyin"
    if english:
        return "english"
    return "mash"


def unreadable(text: str) -> Kind | None:
    """The kind of an unreadable message (mash, pinyin, English, another language), else None."""
    found = kind(text)
    return found if found in ("pinyin", "english", "foreign", "mash") else None
