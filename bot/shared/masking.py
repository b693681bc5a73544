"""Mask personal numbers (身份证号, 手机号) before text reaches a log line, a store
outside the conversation, an analytics table or someone else's screen.

The one masking module of the project: the bot service, the Rasa process (its tracker store) and the
action server (actions/privacy.py) all use `mask()` from here.  Standard library only, so importing
it pulls in nothing of the bot service.  The bot service masks its log lines with `MaskingFilter` on
its one handler (bot/logs.py); the Rasa process and the action server, whose loggers rasa, rasa_sdk,
coloredlogs and Sanic set up (some only once the server starts), call `mask_every_record()`.

The conversation itself keeps the citizen's words as typed (the citizen and the helper who holds it
need them); everything written for operators or statistics goes through `mask()`.

What counts as a number to mask, stricter rather than looser (a masked 订单号 costs little, a leaked
身份证号 much):
- 18 characters shaped like a resident ID (17 digits and a check digit or X), whatever its birth
  date or check digit says (a wrong one is still somebody's number, typed wrong);
- an 11-digit mobile number starting with 1, optionally +86/0086;
- digits glued to letters ("sfz370125…"), written with spaces, dashes or zero-width characters
  between them ("3701 2519 …"), or in full-width form ("１３８…").
"""

from __future__ import annotations

import logging
import re
from typing import Any

# Full-width digits and X fold to ASCII one character for one, so positions found in the folded
# copy are positions in the original text.
_FOLD = str.maketrans({**{chr(0xFF10 + d): str(d) for d in range(10)}, "Ｘ": "X", "ｘ": "x"})
# What may stand between the digits of one number: a space (also full-width or no-break), a dash,
# a dot, or an invisible character.
_SEP = r"[ \t\-.\u00a0\u3000\u200b-\u200d\u2060\ufeff]"
# Resident ID: 17 digits and a check digit or X.  Longer and shorter digit runs (order numbers,
# public codes) are kept; an echo that shortens a message masks before it cuts (bot/service.py).
_ID_CARD = re.compile(rf"(?<![0-9])[0-9](?:{_SEP}?[0-9]){{16}}{_SEP}?[0-9Xx](?![0-9])")
# Mobile: 1 and ten more digits, optionally +86/0086 in front.
_MOBILE = re.compile(rf"(?<![0-9])((?:\+?86|0086){_SEP}?)?1(?:{_SEP}?[0-9]){{10}}(?![0-9])")


def mask(text: str) -> str:
    """'身份证370125199001011234，电话13812345678' -> '身份证3701**********1234，电话138****5678'."""
    if not text:
        return text
    text = _replace(text, _ID_CARD, _mask_id_card)
    return _replace(text, _MOBILE, _mask_mobile)


def _replace(text: str, pattern: re.Pattern[str], masker: Any) -> str:
    folded = text.translate(_FOLD)
    parts, last = [], 0
    for match in pattern.finditer(folded):
        parts.append(text[last : match.start()])
        parts.append(masker(match))
        last = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _digits(value: str) -> str:
    return "".join(char for char in value if char.isdigit() or char in "Xx")


def _mask_id_card(match: re.Match[str]) -> str:
    digits = _digits(match.group(0))
    return digits[:4] + "*" * 10 + digits[-4:]


def _mask_mobile(match: re.Match[str]) -> str:
    prefix = match.group(1) or ""
    digits = _digits(match.group(0)[len(prefix) :])
    return f"{prefix}{digits[:3]}****{digits[-4:]}"


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


_RECORD_FACTORY_MASKS = "_jsb_masks"


def mask_every_record() -> None:
    """Mask every log record of this process as it is made, whichever logger or handler takes it
    (also the ones a library adds later).  Idempotent."""
    made = logging.getLogRecordFactory()
    if getattr(made, _RECORD_FACTORY_MASKS, False):
        return

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = made(*args, **kwargs)
        _MASKING.filter(record)
        if record.exc_info and not record.exc_text:  # a traceback can quote the citizen's words
            record.exc_text = mask(_TRACEBACKS.formatException(record.exc_info))
        return record

    setattr(masked_record, _RECORD_FACTORY_MASKS, True)
    logging.setLogRecordFactory(masked_record)


_MASKING = MaskingFilter()
_TRACEBACKS = logging.Formatter()
