"""REST connector: a JSON API for other apps, described and validated by an OpenAPI 3.1 document.

POST /api/v1/messages                                            send a message, get the replies
POST /api/v1/conversations/{id}/ratings                          rate an answer or a helper (five levels)
GET  /api/v1/conversations/{id}?user_id=…                        the conversation's state
GET  /api/v1/conversations/{id}/messages?user_id=…&after_seq=…   its history
GET  /api/openapi.json                                           the document itself

Every call but the document's comes from a calling app with a key (bot.apikeys; BOT_REST_DEV_OPEN
lets keyless calls in for local development).  A conversation belongs to the app that opened it
and the citizen (`user_id`) it was opened for: any other app or citizen gets 404, the same answer
as for an id that never existed, so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

from bot.apikeys import DEV_APP, CallingApp
from bot.conversations import Conversation, State
from bot.inputs import BadInputError, check_text, read_json
from bot.keys import CONFIG, SERVICE, STORE
from bot.middlewares import CONVERSATION_CLOSED, calling_app, presented_key, too_many
from bot.pseudonyms import load_key, pseudonym
from bot.ratelimit import KeyedLimiter
from bot.responses import invalid_request, json_error, ok, refused
from bot.service import Outcome, Receipt
from bot.shared.masking import mask
from connectors.rest.openapi import CONVERSATION_ID, SchemaValidator, build_openapi

CHANNEL_NAME = "rest"
OPENAPI = web.AppKey("openapi", dict)
VALIDATOR = web.AppKey("openapi_validator", SchemaValidator)
CITIZEN_LIMITS = web.AppKey("rest_citizen_limits", KeyedLimiter)
PSEUDONYM_KEY = web.AppKey("rest_pseudonym_key", bytes)

_CONVERSATION_ID_CHECK = Draft202012Validator(CONVERSATION_ID)

routes = web.RouteTableDef()


def _invalid(details: list[str]) -> web.Response:
    return refused(invalid_request(details))


def _not_found() -> web.Response:
    return json_error(404, "unknown_conversation", "没有找到这个会话。 / Unknown conversation id.")


def _closed() -> web.Response:
    return refused(CONVERSATION_CLOSED)


def _calling_app(request: web.Request) -> CallingApp | web.Response:
    """The app making this call, or the 401 refusal.  A wrong key is refused even in dev-open mode."""
    app = calling_app(request)
    if app is not None:
        return app
    if request.app[CONFIG].rest_dev_open and not presented_key(request):
        return DEV_APP
    message = "缺少或错误的 API 密钥，请向管理员申请（python -m bot.apikeys）。 / Missing or wrong API key."
    return json_error(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def owner_of(app: CallingApp, user_id: str) -> str:
    """A REST conversation's external id: the calling app and its citizen, so apps never collide."""
    return app.owner_prefix + user_id


def _citizen_too_fast(request: web.Request, owner: str) -> web.Response | None:
    """One citizen's pace (BOT_API_USER_RATE): a person does not type ten messages a second, a
    loop or a stuck retry does.  Keyed by the calling app and the citizen, so apps do not collide."""
    bucket = request.app[CITIZEN_LIMITS].bucket(owner)
    return None if bucket.allow() else too_many(bucket)


async def _json_body(request: web.Request, schema: str) -> dict[str, Any] | web.Response:
    if request.content_type != "application/json":
        message = "请用 JSON 格式（Content-Type: application/json）。 / Send JSON (Content-Type: application/json)."
        return json_error(415, "unsupported_media_type", message)
    body = await read_json(request)  # a BadInputError is answered by the error middleware
    problems = request.app[VALIDATOR].errors(schema, body)
    if problems:
        return _invalid(problems)
    return body


async def _own_conversation(request: web.Request, conversation_id: str, owner: str) -> Conversation | None:
    """The conversation when it is this app's and this citizen's; None otherwise (told apart from
    nothing: an unknown id and someone else's get the same 404)."""
    conversation = await request.app[SERVICE].get_conversation(conversation_id)
    if conversation is None or conversation.channel != CHANNEL_NAME:
        return None
    stored_owner = pseudonym(request.app[PSEUDONYM_KEY], owner)  # what open_conversation stored
    if not hmac.compare_digest(conversation.external_id.encode(), stored_owner.encode()):
        return None
    return conversation


def _user_of_query(request: web.Request, problems: list[str]) -> str:
    user_id = request.query.get("user_id", "")
    try:
        check_text(user_id)
    except BadInputError as err:
        problems.append(err.message)
    if not user_id:
        problems.append("缺少参数 user_id（会话所属的群众编号） / the user_id query parameter is required")
    elif len(user_id) > 128:
        problems.append("参数 user_id 太长（最多 128 个字） / user_id: at most 128 characters")
    return user_id


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
    return ok(
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
    app = _calling_app(request)
    if isinstance(app, web.Response):
        return app
    body = await _json_body(request, "SendMessage")
    if isinstance(body, web.Response):
        return body
    service = request.app[SERVICE]
    user_id = body["user_id"]
    owner = owner_of(app, user_id)
    if (refused := _citizen_too_fast(request, owner)) is not None:
        return refused
    if "conversation_id" in body:
        conversation = await _own_conversation(request, body["conversation_id"], owner)
        if conversation is None:
            return _not_found()
        if conversation.state == State.CLOSED:
            return _closed()
    else:
        # Apps often use the phone number as user_id: only a keyed pseudonym is stored (bot/pseudonyms.py).
        stored_owner = pseudonym(request.app[PSEUDONYM_KEY], owner)
        conversation = await service.open_conversation(
            CHANNEL_NAME, stored_owner, {"user_id": mask(user_id), "app": app.name}
        )
    # An InputError (empty, too long, closed meanwhile) is answered by the error middleware.
    receipt = await service.receive(
        conversation,
        body["text"],
        payload=body.get("payload"),
        client_id=body.get("client_id"),
        want_outcome=True,
    )
    return await _result(request, conversation, receipt)


@routes.post("/api/v1/conversations/{conversation_id}/ratings")
async def rate_answer(request: web.Request) -> web.Response:
    app = _calling_app(request)
    if isinstance(app, web.Response):
        return app
    problems = _id_problems(request)
    if problems:
        return _invalid(problems)
    body = await _json_body(request, "Rate")
    if isinstance(body, web.Response):
        return body
    owner = owner_of(app, body["user_id"])
    conversation = await _own_conversation(request, request.match_info["conversation_id"], owner)
    if conversation is None:
        return _not_found()
    if (refused := _citizen_too_fast(request, owner)) is not None:
        return refused
    receipt = await request.app[SERVICE].rate(  # an InputError: answered by the error middleware
        conversation,
        body["seq"],
        body["value"],
        reason=body.get("reason"),
        comment=body.get("comment"),
        client_id=body.get("client_id"),
        want_outcome=True,
    )
    return await _result(request, conversation, receipt)


@routes.get("/api/v1/conversations/{conversation_id}")
async def get_conversation(request: web.Request) -> web.Response:
    app = _calling_app(request)
    if isinstance(app, web.Response):
        return app
    problems = _id_problems(request)
    user_id = _user_of_query(request, problems)
    if problems:
        return _invalid(problems)
    conversation = await _own_conversation(request, request.match_info["conversation_id"], owner_of(app, user_id))
    if conversation is None:
        return _not_found()
    return ok(conversation.to_json())


@routes.get("/api/v1/conversations/{conversation_id}/messages")
async def get_history(request: web.Request) -> web.Response:
    app = _calling_app(request)
    if isinstance(app, web.Response):
        return app
    query: dict[str, Any] = {}
    problems = _id_problems(request)
    user_id = _user_of_query(request, problems)
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
    conversation = await _own_conversation(request, request.match_info["conversation_id"], owner_of(app, user_id))
    if conversation is None:
        return _not_found()
    messages = await request.app[SERVICE].history(conversation, query.get("after_seq", 0), query.get("limit", 100))
    return ok(
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
    return ok(request.app[OPENAPI])


def setup(app: web.Application) -> None:
    app[PSEUDONYM_KEY] = load_key(app[CONFIG].data_dir)
    app[CITIZEN_LIMITS] = KeyedLimiter(app[CONFIG].api_user_rate, app[CONFIG].api_user_burst, max_keys=100_000)
    document = build_openapi(app[CONFIG])
    app[OPENAPI] = document
    app[VALIDATOR] = SchemaValidator(document)
    app.add_routes(routes)
