"""A local stand-in for the Telegram Bot API server (the Telegram cloud is unreachable from here).

It speaks the real Bot API HTTP protocol: `POST/GET /bot<token>/<method>` with JSON, urlencoded or
multipart parameters (complex fields JSON-encoded, as python-telegram-bot sends them), answers
`{"ok": true, "result": …}` / `{"ok": false, "error_code": …, "description": …}` with real object
shapes, long-polls getUpdates, and in webhook mode POSTs updates to the registered URL with the
secret-token header.  Tests play the citizen through `user_*` methods and read what the bot sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456:TEST-jishiban-standin-token"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "济时办测试",
    "username": "jishiban_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Sent:
    """One message the bot sent (sendMessage), with its keyboard as Telegram stores it."""

    message_id: int
    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None
    raw: dict[str, Any]
    parse_mode: str | None = None  # None: Telegram shows the text exactly as sent

    @property
    def buttons(self) -> list[dict[str, Any]]:
        if not self.reply_markup:
            return []
        return [button for row in self.reply_markup.get("inline_keyboard", []) for button in row]

    def button(self, text: str) -> dict[str, Any]:
        for button in self.buttons:
            if button["text"] == text:
                return button
        raise KeyError(f"no button {text!r} in {[b['text'] for b in self.buttons]}")


@dataclass
class BotApiStandin:
    token: str = TOKEN
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    markup_edits: list[dict[str, Any]] = field(default_factory=list)
    chat_actions: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_deliveries: list[int] = field(default_factory=list)  # HTTP status per delivery
    # Chats whose sendMessage fails as Telegram answers for a chat it cannot reach (kept: when).
    unreachable_chats: set[int] = field(default_factory=set)
    refused_sends: list[tuple[int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(10_000)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(900_000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._methods = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendChatAction": self.send_chat_action,
            "answerCallbackQuery": self.answer_callback_query,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "setMyCommands": self.set_my_commands,
        }
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    # -- server ------------------------------------------------------------------------------

    async def start(self) -> BotApiStandin:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _fail(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(method)
        handler = self._methods.get(method)
        if handler is None:
            return _fail(404, "Not Found: method not found")
        try:
            return await handler(params)
        except _ApiError as err:
            return _fail(err.code, err.description)

    # -- Bot API methods (their camelCase names are in self._methods) ---------------------------

    async def get_me(self, params: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook_url:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones are forgotten
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self.updates and time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except asyncio.TimeoutError:
                    break
        return _ok(self.updates[:limit])

    async def set_webhook(self, params: dict[str, Any]) -> web.Response:
        url = params.get("url", "")
        if url and not url.startswith(("http://", "https://")):
            raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        self.webhook_secret = params.get("secret_token", "")
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self.updates.clear()
        if self.webhook_url:
            for update in list(self.updates):
                await self._push(update)
        return _ok(True, description="Webhook was set")

    async def delete_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook_url, self.webhook_secret = "", ""
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self.updates.clear()
        return _ok(True, description="Webhook was deleted")

    async def get_webhook_info(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self.updates)}
        )

    async def send_message(self, params: dict[str, Any]) -> web.Response:
        text = params.get("text")
        if not text:
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        chat_id = int(params["chat_id"])
        if chat_id in self.unreachable_chats:
            self.refused_sends.append((chat_id, time.monotonic()))
            raise _ApiError(400, "Bad Request: chat not found")
        markup = _json_field(params.get("reply_markup"))
        message = {
            "message_id": next(self._message_ids),
            "from": BOT_USER,
            "chat": _private_chat(chat_id),
            "date": int(time.time()),
            "text": text,
        }
        if markup:
            message["reply_markup"] = markup
        async with self._changed:
            self.sent.append(Sent(message["message_id"], chat_id, text, markup, message, params.get("parse_mode")))
            self._changed.notify_all()
        return _ok(message)

    async def send_chat_action(self, params: dict[str, Any]) -> web.Response:
        self.chat_actions.append(params)
        return _ok(True)

    async def answer_callback_query(self, params: dict[str, Any]) -> web.Response:
        async with self._changed:
            self.callback_answers.append(params)
            self._changed.notify_all()
        return _ok(True)

    async def edit_message_reply_markup(self, params: dict[str, Any]) -> web.Response:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        target = next((s for s in self.sent if s.chat_id == chat_id and s.message_id == message_id), None)
        if target is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        markup = _json_field(params.get("reply_markup"))
        if markup == target.reply_markup:
            raise _ApiError(400, "Bad Request: message is not modified")
        target.reply_markup = markup
        async with self._changed:
            self.markup_edits.append({"chat_id": chat_id, "message_id": message_id, "reply_markup": markup})
            self._changed.notify_all()
        edited = (
            {**target.raw, "reply_markup": markup}
            if markup
            else {k: v for k, v in target.raw.items() if k != "reply_markup"}
        )
        return _ok({**edited, "edit_date": int(time.time())})

    async def set_my_commands(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    # -- the citizen's side ------------------------------------------------------------------

    def _user(self, chat_id: int) -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": "测试群众", "language_code": "zh-hans"}

    def _message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "from": self._user(chat_id),
            "chat": _private_chat(chat_id),
            "date": int(time.time()),
            **content,
        }

    async def user_sends(self, chat_id: int, text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self.deliver_update({"message": self._message(chat_id, **content)})

    async def user_sends_content(self, chat_id: int, **content: Any) -> dict[str, Any]:
        """A non-text message: photo=[…], sticker={…}, voice={…}, location={…} …"""
        return await self.deliver_update({"message": self._message(chat_id, **content)})

    async def user_edits(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        edited = {**self._message(chat_id, text=text), "message_id": message_id, "edit_date": int(time.time())}
        return await self.deliver_update({"edited_message": edited})

    async def user_clicks(self, sent: Sent, button_text: str) -> dict[str, Any]:
        button = sent.button(button_text)
        query = {
            "id": str(next(self._callback_ids)),
            "from": self._user(sent.chat_id),
            "message": {**sent.raw, "reply_markup": sent.reply_markup},
            "chat_instance": f"ci-{sent.chat_id}",
            "data": button["callback_data"],
        }
        return await self.deliver_update({"callback_query": query})

    async def deliver_update(self, content: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **content}
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()
        if self.webhook_url:
            await self._push(update)
        return update

    async def _push(self, update: dict[str, Any]) -> None:
        """Webhook delivery as Telegram does it: POST JSON, secret header; 2xx removes the update."""
        assert self._session is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
        async with self._session.post(self.webhook_url, json=update, headers=headers) as response:
            self.webhook_deliveries.append(response.status)
            if 200 <= response.status < 300 and update in self.updates:
                self.updates.remove(update)

    # -- waiting -----------------------------------------------------------------------------

    async def wait_for(self, predicate: Any, timeout: float = 60.0) -> Any:
        """Wait until predicate() returns something truthy (re-checked on every Bot API call)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            return predicate()

    async def wait_sent(self, chat_id: int, after: int = 0, count: int = 1, timeout: float = 60.0) -> list[Sent]:
        """The first `count` messages sent to chat_id after the first `after` ones."""

        def ready() -> list[Sent] | None:
            mine = [s for s in self.sent if s.chat_id == chat_id][after:]
            return mine[:count] if len(mine) >= count else None

        return await self.wait_for(ready, timeout)

    def sent_to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _ok(result: Any, description: str | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return web.json_response(body)


def _fail(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)


def _private_chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "first_name": "测试群众", "type": "private"}


def _json_field(value: Any) -> Any:
    """Complex parameters arrive JSON-encoded in form posts, as objects in JSON posts."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params
