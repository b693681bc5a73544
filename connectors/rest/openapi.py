"""The REST API's OpenAPI 3.1 document, and request validation against it (jsonschema).

OpenAPI 3.1 schemas are JSON Schema 2020-12, so the same document describes the API to people and
validates every request body and query; limits (message length) come from the running config.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, RefResolver
from jsonschema.exceptions import ValidationError

from bot.config import BotConfig
from bot.ratings import MAX_COMMENT, REASONS
from bot.service import MAX_SEQ  # SQLite's signed 64-bit integers: larger is refused as out of range

CONVERSATION_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "会话编号（32 位十六进制）"}
USER_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "description": "调用方应用里这位群众的编号；会话只属于开启它的应用和这位群众 / the citizen's id in the calling app",
}
CLIENT_ID = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]{8,64}$",
    "description": "调用方生成的消息编号；重试时带上同一个编号，消息只会处理一次（幂等）。",
}


def build_openapi(config: BotConfig) -> dict[str, Any]:
    limit = config.max_message_chars
    text = {"type": "string", "minLength": 1, "maxLength": limit}
    error_responses = {
        "400": _error("请求格式不对 / invalid request"),
        "401": _error("缺少或错误的 API 密钥 / missing or wrong API key"),
        "413": _error("请求内容太大 / body too large"),
        "415": _error("不是 JSON / not JSON"),
        "429": _error("请求太频繁 / rate limited"),
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "济时办 bot service REST API",
            "version": "1.0.0",
            "description": (
                "给其他应用用的对话接口：发一条消息、拿到助手的回复；读取会话记录。\n"
                "A JSON API for other apps: send a citizen's message and get the assistant's replies; "
                "read a conversation's history. Errors are JSON `{error: {code, message, details}}` with a "
                "Chinese + English message."
            ),
        },
        "paths": {
            "/api/v1/messages": {
                "post": {
                    "operationId": "sendMessage",
                    "summary": "发送一条消息并取得回复 / send a message, get the replies",
                    "description": (
                        f"回复最多等 {config.apology_after:g} 秒；助手暂时不可用时返回 status=pending 和一条致歉，"
                        "消息已保存，恢复后自动回答，回答可用会话记录接口读取。"
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SendMessage"}}},
                    },
                    "responses": {
                        "200": _json("回复 / the replies", "SendResult"),
                        "404": _error("没有这个会话 / unknown conversation"),
                        "409": _error("会话已结束 / conversation closed"),
                        **error_responses,
                    },
                }
            },
            "/api/v1/conversations/{conversation_id}": {
                "get": {
                    "operationId": "getConversation",
                    "summary": "会话状态 / conversation state",
                    "parameters": [_path_id(), _user_query()],
                    "responses": {
                        "200": _json("会话 / the conversation", "Conversation"),
                        "404": _error("没有这个会话 / unknown conversation"),
                        **error_responses,
                    },
                }
            },
            "/api/v1/conversations/{conversation_id}/messages": {
                "get": {
                    "operationId": "getHistory",
                    "summary": "读取会话记录 / read a conversation's history",
                    "parameters": [
                        _path_id(),
                        _user_query(),
                        {
                            "name": "after_seq",
                            "in": "query",
                            "description": "只要编号大于它的消息 / only messages after this seq",
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ, "default": 0},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "description": "最多返回几条（最新的）/ at most this many (the newest)",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                        },
                    ],
                    "responses": {
                        "200": _json("会话记录 / the history", "History"),
                        "404": _error("没有这个会话 / unknown conversation"),
                        **error_responses,
                    },
                }
            },
            "/api/v1/conversations/{conversation_id}/ratings": {
                "post": {
                    "operationId": "rateAnswer",
                    "summary": "评价一个回答或一次人工帮办（五级好差评）/ rate an answer or a helper",
                    "parameters": [_path_id()],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rate"}}},
                    },
                    "responses": {
                        "200": _json("助手的回复 / the replies", "SendResult"),
                        "404": _error("没有这个会话 / unknown conversation"),
                        "409": _error("会话已结束 / conversation closed"),
                        **error_responses,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "SendMessage": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["user_id", "text"],
                    "properties": {
                        "user_id": USER_ID,
                        "text": {**text, "description": "群众看到的文字（按钮则为按钮标题）"},
                        "payload": {**text, "description": "点按钮时发给助手的内容（按钮的 payload）"},
                        "conversation_id": CONVERSATION_ID,
                        "client_id": CLIENT_ID,
                    },
                },
                "Rate": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["user_id", "seq", "value"],
                    "properties": {
                        "user_id": USER_ID,
                        "seq": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_SEQ,
                            "description": "被评价的回答的编号",
                        },
                        "value": {
                            "enum": [1, 2, 3, 4, 5, "good", "bad"],
                            "description": "5 非常满意 … 1 非常不满意（旧写法 good/bad 即 4/2）",
                        },
                        "reason": {
                            "enum": [*REASONS, None],
                            "description": "不满意的原因：" + "；".join(f"{k} {v}" for k, v in REASONS.items()),
                        },
                        "comment": {"type": ["string", "null"], "maxLength": MAX_COMMENT},
                        "client_id": CLIENT_ID,
                    },
                },
                "SendResult": {
                    "type": "object",
                    "required": ["conversation_id", "state", "status", "message", "replies"],
                    "properties": {
                        "conversation_id": CONVERSATION_ID,
                        "state": {"$ref": "#/components/schemas/State"},
                        "status": {
                            "enum": ["answered", "pending", "for_helper", "duplicate", "unanswered"],
                            "description": (
                                "answered 已回答；pending 助手暂不可用，已致歉，恢复后回答；"
                                "for_helper 已交人工帮办；duplicate 同一 client_id 重发，返回第一次的结果；"
                                "unanswered 暂时无法回答（已告知，消息留给帮办人员）"
                            ),
                        },
                        "message": {"$ref": "#/components/schemas/Message"},
                        "replies": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                    },
                },
                "Conversation": {
                    "type": "object",
                    "required": ["conversation_id", "channel", "state", "created_at"],
                    "properties": {
                        "conversation_id": CONVERSATION_ID,
                        "channel": {"type": "string"},
                        "state": {"$ref": "#/components/schemas/State"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
                "History": {
                    "type": "object",
                    "required": ["conversation_id", "state", "messages"],
                    "properties": {
                        "conversation_id": CONVERSATION_ID,
                        "state": {"$ref": "#/components/schemas/State"},
                        "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                    },
                },
                "State": {"enum": ["bot", "waiting_helper", "with_helper", "closed"]},
                "Message": {
                    "type": "object",
                    "required": [
                        "seq",
                        "conversation_id",
                        "direction",
                        "kind",
                        "text",
                        "buttons",
                        "status",
                        "created_at",
                    ],
                    "properties": {
                        "seq": {"type": "integer", "minimum": 1},
                        "conversation_id": CONVERSATION_ID,
                        "direction": {"enum": ["in", "out"], "description": "in 群众发的；out 助手/系统发的"},
                        "kind": {"enum": ["text", "notice"], "description": "notice 是系统提示（致歉、转人工等）"},
                        "text": {"type": "string"},
                        "buttons": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["title", "payload"],
                                "properties": {"title": {"type": "string"}, "payload": {"type": "string"}},
                            },
                        },
                        "entry": {
                            "description": "回答出自的知识库条目（可据此评价）",
                            "oneOf": [
                                {"type": "null"},
                                {
                                    "type": "object",
                                    "required": ["id", "title"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "title": {"type": "string"},
                                        "kind": {"type": ["string", "null"]},
                                        "element": {"type": ["string", "null"]},
                                    },
                                },
                            ],
                        },
                        "rating": {
                            "enum": ["1", "2", "3", "4", "5", None],
                            "description": "好差评：5 非常满意 4 满意 3 基本满意 2 不满意 1 非常不满意",
                        },
                        "rate": {"enum": ["helper"], "description": "结束人工帮办的提示：可评价这次帮办"},
                        "rating_noted": {
                            "type": "boolean",
                            "description": "不满意/非常不满意的原因已提交（没有这一项表示还没给原因）",
                        },
                        "client_id": {"type": ["string", "null"]},
                        "reply_to": {"type": ["integer", "null"]},
                        "status": {
                            "enum": [
                                "pending",
                                "answered",
                                "for_helper",
                                "unanswered",
                                "sent",
                                "undelivered",
                                "dead_letter",
                            ]
                        },
                        "created_at": {"type": "string", "format": "date-time"},
                        "walkthrough": {"type": "object"},
                        "helper": {"type": "string", "description": "帮办人员的名字（人工帮办写的消息才有）"},
                        "queue": {"type": "boolean", "description": "排队提示（网页窗口把它们并成一张转人工卡片）"},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string", "description": "中文 / English"},
                                "details": {"type": "array", "items": {"type": "string"}},
                            },
                        }
                    },
                },
            }
        },
    }
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "python -m bot.apikeys create APP"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    document["security"] = [{"bearer": []}, {"apiKey": []}]
    return document


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _error(description: str) -> dict[str, Any]:
    return _json(description, "Error")


def _user_query() -> dict[str, Any]:
    return {"name": "user_id", "in": "query", "required": True, "schema": USER_ID}


def _path_id() -> dict[str, Any]:
    return {"name": "conversation_id", "in": "path", "required": True, "schema": CONVERSATION_ID}


class SchemaValidator:
    """Validates JSON values against a named schema of the document; errors in Chinese and English."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._resolver = RefResolver.from_schema(document)
        self._validators: dict[str, Draft202012Validator] = {}

    def validator(self, ref: str) -> Draft202012Validator:
        if ref not in self._validators:
            self._validators[ref] = Draft202012Validator({"$ref": ref}, resolver=self._resolver)
        return self._validators[ref]

    def errors(self, schema_name: str, value: Any) -> list[str]:
        validator = self.validator(f"#/components/schemas/{schema_name}")
        found = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        return [describe(error) for error in found]

    def parameter_errors(self, path: str, method: str, query: dict[str, Any]) -> list[str]:
        """Query parameters of an operation, already converted to numbers where the schema says so."""
        operation = self.document["paths"][path][method]
        problems = []
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query" or parameter["name"] not in query:
                continue
            schema = parameter["schema"]
            for error in Draft202012Validator(schema).iter_errors(query[parameter["name"]]):
                error.path.appendleft(parameter["name"])
                problems.append(describe(error))
        return problems


def describe(error: ValidationError) -> str:
    """One validation error as '中文说明 / English message'."""
    where = ".".join(str(part) for part in error.absolute_path) or "请求体"
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        chinese = f"缺少必填字段 {missing}"
    elif kind == "additionalProperties":
        chinese = f"{where} 里有不认识的字段"
    elif kind == "type":
        chinese = f"字段 {where} 的类型不对（应为 {error.validator_value}）"
    elif kind == "maxLength":
        chinese = f"字段 {where} 太长（最多 {error.validator_value} 个字）"
    elif kind == "minLength":
        chinese = f"字段 {where} 不能为空"
    elif kind == "pattern":
        chinese = f"字段 {where} 的格式不对"
    elif kind == "enum":
        chinese = f"字段 {where} 只能是 {', '.join(map(str, error.validator_value))} 之一"
    elif kind in ("minimum", "maximum"):
        chinese = f"字段 {where} 超出范围"
    else:
        chinese = f"字段 {where} 不符合要求"
    return f"{chinese} / {error.message}"
