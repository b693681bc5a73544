"""The web layer's one refusal type and one JSON response helper; every refusal becomes HTTP here.

Handlers answer with `ok(body)` and refuse by raising: a `RefusedError` (BadInputError, from the
edge's input checks, is one), or a domain error that knows nothing of HTTP.  The error middleware
(bot/middlewares.py) asks `refusal_of` there what each means on the wire and answers
{"error": {"code", "message", "details"?}} with `json_error`:

    RefusedError                                   its own status, code, message, headers
    knowledge_base.curation.CurationError          by kind (STATUS_OF_CURATION), with details
    bot.service.InputError                         a closed conversation 409, anything else 400

Nothing of the domain is imported here, so every layer that answers HTTP can import this module.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class RefusedError(Exception):
    """A request that is not served as asked; nothing was changed.  `message` is for people
    (Chinese, often with English after a slash), `code` for programs."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # Chinese stays readable on the wire


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """The JSON answer of every handler."""
    return web.json_response(body, status=status, headers=headers, dumps=dumps)


def json_error(
    status: int, code: str, message: str, *, details: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return ok({"error": error}, status=status, headers=headers)


def refused(refusal: RefusedError) -> web.Response:
    return json_error(refusal.status, refusal.code, refusal.message, details=refusal.details, headers=refusal.headers)


def invalid_request(details: list[str]) -> RefusedError:
    return RefusedError(400, "invalid_request", f"请求格式不对：{details[0]}", details=details)
