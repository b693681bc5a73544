"""Masking personal numbers (身份证号, 手机号) in what the actions write for others to read: log
lines, the helper's queue summary and rating comments.  `mask` is the project's one masking module,
bot/shared/masking.py (standard library only: the action server imports nothing else of the bot service),
so the action server masks exactly what the bot service masks."""

from __future__ import annotations

from bot.shared.masking import mask

__all__ = ["mask", "shorten"]


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters (an ellipsis marks a cut)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
