"""REST connector: a JSON API for other apps, described and validated by an OpenAPI 3.1 document.

POST /api/v1/messages                                  send a message, get the replies
POST /api/v1/conversations/{id}/ratings                rate an answer or a helper (five levels)
GET  /api/v1/conversations/{id}                        the conversation's state
GET  /api/v1/conversations/{id}/messages?after_seq=…   its history
GET  /api/openapi.json                                 the document itself
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

from bot.conversations import Conversation, State
from bot.keys import CONFIG, SERVICE, STORE
from bot.middlewares import api_key_of, caller_of, json_error, too_many
from bot.ratelimit import KeyedLimiter
from bot.service import InputError, Outcome, Receipt
from connectors.rest.openapi import CONVERSATION_ID, SchemaValidator, build_openapi

CHANNEL_NAME = "rest"
OPENAPI = web.AppKey("openapi", dict)
VALIDATOR = web.AppKey("openapi_validator", SchemaValidator)
CITIZEN_LIMITS = web.AppKey("rest_citizen_limits", KeyedLimiter)

_CONVERSATION_ID_CHECK = Draft202012Validator(CONVERSATION_ID)

routes = web.RouteTableDef()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _ok(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, dumps=_dumps)


def _invalid(details: list[str]) -> web.Response:
    return json_error(400, "invalid_request", f"请求格式不对：{details[0]}", details=details)


def _not_found() -> web.Response:
    return json_error(404, "unknown_conversation", "没有找到这个会话。 / Unknown conversation id.")


def _closed() -> web.Response:
    message = "这个会话已结束，请不带 conversation_id 重新发送。 / Conversation closed; send without conversation_id."
    return json_error(409, "conversation_closed", message)


def _check_key(request: web.Request) -> web.Response | None:
    keys = request.app[CONFIG].api_keys
    if not keys or api_key_of(request, keys) is not None:
        return None
    return json_error(401, "unauthorized", "缺少或错误的 API 密钥。 / Missing or wrong API key.")


def _citizen_too_fast(request: web.Request, citizen: str) -> web.Response | None:
    """One citizen's pace (BOT_API_USER_RATE): a person does not type ten messages a second, a
    loop or a stuck retry does.  Keyed by the calling app and the citizen, so apps do not collide."""
    bucket = request.app[CITIZEN_LIMITS].bucket(caller_of(request, request.app[CONFIG].api_keys) + "|" + citizen)
    return None if bucket.allow() else too_many(bucket)


async def _json_body(request: web.Request, schema: str) -> dict[str, Any] | web.Response:
    if request.content_type != "application/json":
        message = "请用 JSON 格式（Content-Type: application/json）。 / Send JSON (Content-Type: application/json)."
        return json_error(415, "unsupported_media_type", message)
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return json_error(400, "invalid_json", "请求体不是合法的 JSON。 / The body is not valid JSON.")
    problems = request.app[VALIDATOR].errors(schema, body)
    if problems:
        return _invalid(problems)
    return body


async def _rest_conversation(request: web.Request) -> Conversation | None:
    conversation_id = request.match_info["conversation_id"]
    conversation = await request.app[SERVICE].get_conversation(conversation_id)
    if conversation is None or conversation.channel != CHANNEL_NAME:
        return None
    return conversation


async def _result(request: web.Request, conversation: Conversation, receipt: Receipt) -> web.Response:
    service = request.app[SERVICE]
    if receipt.duplicate:
        outcome = Outcome("duplicate", await request.app[STORE].replies_to(receipt.message.seq))
    else:
        assert receipt.outcome is not None
        # The service settles every message within BOT_APOLOGY_AFTER (answer or apology); a little slack.
        try:
            outcome = await asyncio.wait_for(asyncio.shield(receipt.outcome), request.app[CONFIG].apology_after + 2)
        except asyncio.TimeoutError:
            service.forget_outcome(receipt.message.seq)
            outcome = Outcome("pending")
    fresh = await service.get_conversation(conversation.id) or conversation
    message = await request.app[STORE].get_message(receipt.message.seq) or receipt.message
    return _ok(
        {
            "conversation_id": conversation.id,
            "state": fresh.state.value,
            "status": outcome.status,
            "message": message.to_json(),
            "replies": [reply.to_json() for reply in outcome.replies],
        }
    )


@routes.post("/api/v1/messages")
async def send_message(request: web.Request) -> web.Response:
    if (refused := _check_key(request)) is not None:
        return refused
    body = await _json_body(request, "SendMessage")
    if isinstance(body, web.Response):
        return body
    service = request.app[SERVICE]
    user_id = body["user_id"]
    if (refused := _citizen_too_fast(request, user_id)) is not None:
        return refused
    if "conversation_id" in body:
        conversation = await service.get_conversation(body["conversation_id"])
        if conversation is None or conversation.channel != CHANNEL_NAME or conversation.external_id != user_id:
            return _not_found()
        if conversation.state == State.CLOSED:
            return _closed()
    else:
        conversation = await service.open_conversation(CHANNEL_NAME, user_id, {"user_id": user_id})
    try:
        receipt = await service.receive(
            conversation,
            body["text"],
            payload=body.get("payload"),
            client_id=body.get("client_id"),
            want_outcome=True,
        )
    except InputError as err:
        if err.code == "closed":
            return _closed()
        return _invalid([err.message])
    return await _result(request, conversation, receipt)


@routes.post("/api/v1/conversations/{conversation_id}/ratings")
async def rate_answer(request: web.Request) -> web.Response:
    if (refused := _check_key(request)) is not None:
        return refused
    conversation = await _rest_conversation(request)
    if conversation is None:
        return _not_found()
    body = await _json_body(request, "Rate")
    if isinstance(body, web.Response):
        return body
    try:
        receipt = await request.app[SERVICE].rate(
            conversation,
            body["seq"],
            body["value"],
            reason=body.get("reason"),
            comment=body.get("comment"),
            client_id=body.get("client_id"),
            want_outcome=True,
        )
    except InputError as err:
        if err.code == "closed":
            return _closed()
        return _invalid([err.message])
    return await _result(request, conversation, receipt)


@routes.get("/api/v1/conversations/{conversation_id}")
async def get_conversation(request: web.Request) -> web.Response:
    if (refused := _check_key(request)) is not None:
        return refused
    problems = _id_problems(request)
    if problems:
        return _invalid(problems)
    conversation = await _rest_conversation(request)
    if conversation is None:
        return _not_found()
    return _ok(conversation.to_json())


@routes.get("/api/v1/conversations/{conversation_id}/messages")
async def get_history(request: web.Request) -> web.Response:
    if (refused := _check_key(request)) is not None:
        return refused
    query: dict[str, Any] = {}
    problems = _id_problems(request)
    for name in ("after_seq", "limit"):
        if name in request.query:
            raw = request.query[name]
            try:
                query[name] = int(raw)
            except ValueError:
                problems.append(f"参数 {name} 必须是整数 / {name} must be an integer, got {raw!r}")
    problems += request.app[VALIDATOR].parameter_errors(
        "/api/v1/conversations/{conversation_id}/messages", "get", query
    )
    if problems:
        return _invalid(problems)
    conversation = await _rest_conversation(request)
    if conversation is None:
        return _not_found()
    messages = await request.app[SERVICE].history(conversation, query.get("after_seq", 0), query.get("limit", 100))
    return _ok(
        {
            "conversation_id": conversation.id,
            "state": conversation.state.value,
            "messages": [message.to_json() for message in messages],
        }
    )


def _id_problems(request: web.Request) -> list[str]:
    errors = list(_CONVERSATION_ID_CHECK.iter_errors(request.match_info["conversation_id"]))
    if errors:
        return [f"会话编号格式不对（应为 32 位十六进制） / conversation_id: {errors[0].message}"]
    return []


@routes.get("/api/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    return _ok(request.app[OPENAPI])


def setup(app: web.Application) -> None:
    app[CITIZEN_LIMITS] = KeyedLimiter(app[CONFIG].api_user_rate, app[CONFIG].api_user_burst, max_keys=100_000)
    document = build_openapi(app[CONFIG])
    app[OPENAPI] = document
    app[VALIDATOR] = SchemaValidator(document)
    app.add_routes(routes)
