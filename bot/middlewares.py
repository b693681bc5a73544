"""Cross-cutting request handling: JSON errors (never a bare 500 page), API rate limits, safety headers.

Every refusal becomes HTTP in `error_middleware`, the outermost middleware: aiohttp's own HTTP
errors by _HTTP_MESSAGES, the web layer's RefusedError as it says, domain errors (which carry no
HTTP status) by `refusal_of`, anything else a logged 500.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_protocol import RequestPayloadError

from bot import apikeys
from bot.inputs import BAD_ENCODING, CLOSE_AFTER
from bot.keys import STORE
from bot.logs import fields
from bot.ratelimit import KeyedLimiter, TokenBucket
from bot.responses import RefusedError, invalid_request, json_error, refused
from bot.service import InputError
from knowledge_base.curation import (
    ConflictError,
    CurationError,
    InvalidEntryError,
    NotAllowedError,
    NotFoundError,
    StaleError,
    TransitionError,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

# Status -> (code, Chinese + English message) for errors raised by aiohttp itself.
_HTTP_MESSAGES = {
    400: ("bad_request", "请求格式不对。 / Bad request."),
    401: ("unauthorized", "缺少或错误的 API 密钥。 / Missing or wrong API key."),
    403: ("forbidden", "不允许访问。 / Forbidden."),
    404: ("not_found", "没有这个地址。 / Not found."),
    405: ("method_not_allowed", "不支持这个请求方法。 / Method not allowed."),
    413: ("too_large", "请求内容太大。 / Request body too large."),
    415: ("unsupported_media_type", "请用 JSON 格式（Content-Type: application/json）。 / Send JSON."),
    429: ("rate_limited", "请求太频繁，请稍后再试。 / Too many requests, please slow down."),
}
_CALLING_APP = "jsb.calling_app"
INTERNAL = ("internal_error", "服务暂时出错了，请稍后再试。 / Internal error, please try again later.")


# Most specific first: isinstance picks the first that matches.
STATUS_OF_CURATION: tuple[tuple[type[CurationError], int], ...] = (
    (NotFoundError, 404),
    (InvalidEntryError, 422),
    (NotAllowedError, 403),
    (TransitionError, 409),
    (ConflictError, 409),
    (StaleError, 409),
    (CurationError, 400),
)

CONVERSATION_CLOSED = RefusedError(
    409,
    "conversation_closed",
    "这个会话已结束，请不带 conversation_id 重新发送。 / Conversation closed; send without conversation_id.",
)


def refusal_of(error: BaseException) -> RefusedError | None:
    """What a refused request answers, or None for an error that is no refusal (a bug: a 500)."""
    if isinstance(error, RefusedError):
        return error
    if isinstance(error, CurationError):
        status = next(status for kind, status in STATUS_OF_CURATION if isinstance(error, kind))
        return RefusedError(status, error.code, error.message, details=error.details)
    if isinstance(error, InputError):
        if error.code == "closed":
            return CONVERSATION_CLOSED
        return invalid_request([error.message])
    return None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await _handled(request, handler)
    if request.get(CLOSE_AFTER) and not response.prepared:
        response.force_close()  # "Connection: close": the body could not be read to its end
    return response


async def _handled(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        code, message = _HTTP_MESSAGES.get(exc.status, ("http_error", exc.reason))
        if not request.path.startswith(API_PREFIX) and exc.status == 404:
            raise
        return json_error(exc.status, code, message, headers=_kept_headers(exc))
    except RequestPayloadError:  # a body that cannot be decoded (e.g. gzip that is not gzip)
        request[CLOSE_AFTER] = True
        return refused(BAD_ENCODING)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        refusal = refusal_of(error)
        if refusal is not None:
            return refused(refusal)
        log.exception("http.unhandled", extra=fields(path=request.path, method=request.method))
        return json_error(500, *INTERNAL)


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    return {name: value for name, value in exc.headers.items() if name in ("Allow", "Retry-After")}


def presented_key(request: web.Request) -> str:
    """The API key this request presents (`Authorization: Bearer …` or `X-API-Key`), or ""."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else request.headers.get("X-API-Key", "").strip()


def calling_app(request: web.Request) -> apikeys.CallingApp | None:
    """The calling app whose live key this request presents (looked up once per request), or None."""
    if _CALLING_APP not in request:
        key = presented_key(request)
        request[_CALLING_APP] = apikeys.find(request.app[STORE].db, key) if key else None
    found: apikeys.CallingApp | None = request[_CALLING_APP]
    return found


def caller_of(request: web.Request) -> str:
    """Who is calling, for flood limits: the calling app (by its id: keys are never kept in memory
    tables or logs), else the client address."""
    app = calling_app(request)
    return f"app:{app.id}" if app is not None else "ip:" + (request.remote or "unknown")


def too_many(bucket: TokenBucket) -> web.Response:
    code, message = _HTTP_MESSAGES[429]
    return json_error(429, code, message, headers={"Retry-After": str(bucket.retry_after())})


def rate_limit_middleware(by_address: KeyedLimiter, by_key: KeyedLimiter) -> Middleware:
    """Flood limits on /api: a calling app with an API key gets its own, larger bucket (a portal
    backend sends for all its citizens from one address); anonymous callers and staff pages one
    per address.  Each citizen's own pace is limited in the REST connector (per user_id)."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(API_PREFIX) and request.path != "/api/openapi.json":
            caller = caller_of(request)
            bucket = (by_key if caller.startswith("app:") else by_address).bucket(caller)
            if not bucket.allow():
                return too_many(bucket)
        return await handler(request)

    return limit


async def add_safety_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: no MIME sniffing anywhere; pages served here may only run our own files."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.content_type == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'",
        )
        response.headers.setdefault("Referrer-Policy", "same-origin")
