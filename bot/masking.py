"""Mask personal numbers (身份证号, 手机号) before text reaches a log line or an analytics table.

The conversation itself keeps the citizen's words as typed (the citizen and the helper need them);
everything written for operators or statistics goes through `mask()`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# 18-character resident ID: 17 digits and a check digit or X.  Any such run is masked: a wrong
# birth date or check digit does not make a typed ID number less personal.
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
# Mobile number: 11 digits starting with 1, optionally +86/0086 and written 3-4-4 with spaces or dashes.
_MOBILE = re.compile(r"(?<![0-9])((?:\+?86|0086)[\s-]?)?(1\d{2})[\s-]?(\d{4})[\s-]?(\d{4})(?![0-9])")


def mask(text: str) -> str:
    """'身份证370125199001011234，电话13812345678' -> '身份证3701**********1234，电话138****5678'."""
    if not text:
        return text
    text = _ID_CARD.sub(_mask_id_card, text)
    return _MOBILE.sub(_mask_mobile, text)


def _mask_id_card(match: re.Match[str]) -> str:
    whole = match.group(0)
    return whole[:4] + "*" * 10 + whole[-4:]


def _mask_mobile(match: re.Match[str]) -> str:
    prefix = match.group(1) or ""
    return f"{prefix}{match.group(2)}****{match.group(4)}"


def mask_value(value: Any) -> Any:
    """Mask strings anywhere inside JSON-like data (dicts, lists)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    return value


class MaskingFilter(logging.Filter):
    """Logging filter: renders the message once, masked, so no handler ever sees the raw numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = mask(message)
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = mask_value(fields)
        return True
