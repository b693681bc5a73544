"""Structured logs: one JSON object per line on stderr, personal numbers masked.

Call sites log an event name plus fields:  log.info("message.in", extra={"fields": {"seq": 3}})
"""

from __future__ import annotations

import json
import logging
import sys
import time
from urllib.parse import unquote_plus

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from bot.shared.masking import MaskingFilter, mask

_HANDLER_NAME = "jsb-bot"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            text += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return mask(text)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Install one masked handler on the root logger (idempotent: safe to call twice)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries are chatty at INFO; their warnings still come through.
    for noisy in ("httpx", "telegram.ext.Updater", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fields(**values: object) -> dict[str, dict[str, object]]:
    """Shorthand for `extra=`: log.info("event", extra=fields(seq=1))."""
    return {"fields": values}


class MaskedAccessLogger(AbstractAccessLogger):
    """aiohttp's access log line ('%a "%r" %s %b %Tfs') with the request line decoded before masking:
    '?user_id=%31%33%38…' is a phone number that the masking would not recognise percent-encoded."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        version = f"HTTP/{request.version.major}.{request.version.minor}"
        target = unquote_plus(request.raw_path, errors="replace")
        line = f'{request.remote} "{request.method} {target} {version}" {response.status} {response.body_length}'
        self.logger.info(mask(f"{line} {time:.6f}s"))
