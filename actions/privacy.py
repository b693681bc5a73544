"""Masking personal numbers (身份证号, 手机号) in what the actions write for others to read: log
lines, the helper's queue summary and rating comments.  The same patterns as bot/masking.py (the
action server does not import the bot service: each package stands alone)."""

from __future__ import annotations

import re

# 18-character resident ID: 6-digit area, 8-digit birth date, 3-digit sequence, check digit or X.
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[0-9Xx](?![0-9A-Za-z])")
# Mainland mobile number, optionally +86/0086 and written with spaces or dashes as 3-4-4.
_MOBILE = re.compile(r"(?<![0-9])((?:\+?86|0086)[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?![0-9])")


def mask(text: str) -> str:
    """'身份证370125199001011234，电话13812345678' -> '身份证3701**********1234，电话138****5678'."""
    if not text:
        return text
    text = _ID_CARD.sub(lambda m: m.group(0)[:4] + "*" * 10 + m.group(0)[-4:], text)
    return _MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", text)


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters (an ellipsis marks a cut)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
