"""One refusal type, one JSON helper, one mapping to HTTP (bot/responses.py, bot/middlewares.py)."""

from __future__ import annotations

import json

import pytest

from bot.inputs import TOO_LARGE, BadInputError
from bot.middlewares import refusal_of
from bot.responses import RefusedError, json_error, ok
from bot.service import InputError
from knowledge_base import curation


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (curation.NotFoundError("没有这个条目"), 404),
        (curation.InvalidEntryError("内容不对", details=[{"field": "title"}]), 422),
        (curation.NotAllowedError("不能批准自己写的"), 403),
        (curation.TransitionError("已经提交"), 409),
        (curation.ConflictError("别人改过了", details={"published": None, "draft": None}), 409),
        (curation.StaleError("版本已变"), 409),
        (curation.CurationError("原因太长"), 400),
    ],
)
def test_curation_refusals_map_to_their_status_with_code_and_details(error: curation.CurationError, status: int):
    refusal = refusal_of(error)
    assert refusal is not None
    assert (refusal.status, refusal.code, refusal.message, refusal.details) == (
        status,
        error.code,
        error.message,
        error.details,
    )


def test_domain_errors_carry_no_http_status() -> None:
    assert not hasattr(curation.ConflictError("x"), "status")
    assert not hasattr(InputError("closed", "x"), "status")


def test_the_services_input_errors_map_to_409_when_closed_else_400() -> None:
    closed = refusal_of(InputError("closed", "会话已结束"))
    too_long = refusal_of(InputError("too_long", "太长了"))
    assert closed is not None and (closed.status, closed.code) == (409, "conversation_closed")
    assert too_long is not None and (too_long.status, too_long.code, too_long.details) == (
        400,
        "invalid_request",
        ["太长了"],
    )


def test_edge_input_errors_are_refusals_themselves_and_bugs_are_none() -> None:
    assert isinstance(TOO_LARGE, RefusedError) and refusal_of(TOO_LARGE) is TOO_LARGE
    assert isinstance(BadInputError("x", "y"), ValueError)  # callers that catch ValueError still do
    assert refusal_of(KeyError("a bug")) is None  # a 500, logged


def test_one_json_helper_keeps_chinese_readable_and_errors_keep_empty_details() -> None:
    assert "知识库" in ok({"text": "知识库"}).text
    body = json.loads(json_error(409, "conflict", "冲突", details={}).text)
    assert body == {"error": {"code": "conflict", "message": "冲突", "details": {}}}
