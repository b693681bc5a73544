"""Input hygiene at the edge: JSON that Python can parse but the service cannot use is refused here
with a clear 4xx, before it reaches SQLite (which cannot store a lone UTF-16 surrogate or an
integer of 2^63) or Rasa (which should never get a message made of nothing visible).

Used by every JSON entry point: the REST API, the staff API (login included), the Telegram webhook
and the widget's websocket frames; `visible_text` by the conversation service for every channel.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from bot import texts
from bot.responses import RefusedError

MAX_BODY_BYTES = 128 * 1024  # the largest body any JSON endpoint takes (bot.app sets the same on the wire)
CLOSE_AFTER = "jsb.close_after"
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadInputError(RefusedError, ValueError):
    """Refused input: `code` for programs, `message` (Chinese / English) for people."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(status, code, message)


INVALID_JSON = BadInputError("invalid_json", texts.INVALID_JSON)
BAD_ENCODING = BadInputError("bad_encoding", texts.BAD_ENCODING)
TOO_DEEP = BadInputError("too_deep", texts.TOO_DEEP)
BAD_UNICODE = BadInputError("bad_unicode", texts.BAD_UNICODE)
NUL_CHARACTER = BadInputError("nul_character", texts.NUL_CHARACTER)
UNSUPPORTED_ENCODING = BadInputError("unsupported_encoding", texts.UNSUPPORTED_ENCODING, 415)
TOO_LARGE = BadInputError("too_large", texts.BODY_TOO_LARGE, 413)


async def read_body(request: web.Request) -> bytes:
    """The request body, decompressed here (the app turns aiohttp's own decompression off, which
    answers a bad deflate body with a plain-text 400 before any handler runs): gzip and deflate
    up to MAX_BODY_BYTES, anything else 415; a body that is not what its Content-Encoding says
    is a 400.  Too large on the wire stays aiohttp's 413."""
    try:
        data = await request.read()
    except RequestPayloadError:
        # aiohttp drops the connection after such a body: the answer says so, so that the client
        # opens a new one instead of writing the next request into a closed socket.
        request[CLOSE_AFTER] = True
        raise BAD_ENCODING from None
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity"):
        return data
    if coding in ("gzip", "x-gzip"):
        return _inflate(data, zlib.MAX_WBITS | 16)
    if coding == "deflate":  # zlib-wrapped as HTTP says; some clients send it raw
        try:
            return _inflate(data, zlib.MAX_WBITS)
        except BadInputError as err:
            if err is not BAD_ENCODING:
                raise
            return _inflate(data, -zlib.MAX_WBITS)
    raise UNSUPPORTED_ENCODING


def _inflate(data: bytes, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        body = inflater.decompress(data, MAX_BODY_BYTES + 1)
    except zlib.error:
        raise BAD_ENCODING from None
    if len(body) > MAX_BODY_BYTES:  # a small body that inflates to a large one
        raise TOO_LARGE
    if not inflater.eof or inflater.unused_data:
        raise BAD_ENCODING
    return body


def parse_json(data: str | bytes) -> Any:
    """A JSON value whose strings are valid Unicode without NUL.  Nesting deeper than Python's
    recursion limit (100,000 '[') is refused by the parser itself (RecursionError), in microseconds."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise INVALID_JSON from None
    try:
        value = json.loads(data)
    except RecursionError:
        raise TOO_DEEP from None
    except ValueError:
        raise INVALID_JSON from None
    check_strings(value)
    return value


async def read_json(request: web.Request) -> Any:
    return parse_json(await read_body(request))


def check_strings(value: Any) -> None:
    """Every string (keys too) is storable text: no lone surrogate, no NUL."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def check_text(text: str) -> str:
    if _SURROGATE.search(text):
        raise BAD_UNICODE
    if "\x00" in text:
        raise NUL_CHARACTER
    return text


def visible_text(text: str) -> bool:
    """Has the text anything a person can read?  Whitespace, control characters (Cc) and format
    characters such as zero-width spaces and joiners (Cf) alone are not a message."""
    return any(not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf") for char in text)
