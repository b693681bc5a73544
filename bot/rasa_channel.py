"""Rasa's REST channel as the bot service uses it, loaded by the Rasa process (credentials.yml).

Two differences from Rasa's own `rest` channel (same URL, /webhooks/rest/webhook):

- It needs the Rasa token (RASA_TOKEN or RASA_TOKEN_FILE, the one the HTTP API takes), as
  `Authorization: Bearer <token>` or `?token=`.  Rasa guards only its HTTP API with the token; its
  channels answer anyone, so any local process could talk to Rasa past the bot service (no stored
  message, no masking, no helpers' queue).  Without a token configured the channel stays open.

- A retried message is not a new turn.  The bot service names each message (`message_id` in the
  metadata) and says when it sends one again (`retry: true`), e.g. after a timeout while Rasa was
  still working on the first try.  Under the conversation's lock, Rasa then looks for that message
  in the tracker: if the first try was recorded, its replies are sent again instead of recording
  the citizen's turn twice (which skewed "two misses in a row").  `install_replay()` adds this to
  Rasa's message processor; scripts/rasa_server.py calls it.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.shared.secrets import configured_secret


def configured_token() -> str | None:
    """RASA_TOKEN, else the content of the file named by RASA_TOKEN_FILE."""
    return configured_secret("RASA_TOKEN")


def _given_token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.args.get("token", "")


class TokenRestInput(RestInput):
    def __init__(self, token: str | None = None) -> None:
        self.token = token

    @classmethod
    def name(cls) -> str:
        return "rest"  # the same URL and input_channel as Rasa's own REST channel

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TokenRestInput:
        return cls(configured_token())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def with_message_id(message: UserMessage) -> Any:
            metadata = message.metadata or {}
            if isinstance(metadata.get("message_id"), str) and metadata["message_id"]:
                message.message_id = metadata["message_id"]
            return await on_new_message(message)

        blueprint = super().blueprint(with_message_id)
        token = self.token

        @blueprint.middleware("request")
        async def require_token(request: Request) -> Any:
            if not token or request.method != "POST":
                return None
            if not hmac.compare_digest(_given_token(request).encode(), token.encode()):
                return response.json({"error": "missing or wrong token"}, status=401)
            return None

        return blueprint


def replayed_replies(events: list[Any], message_id: str) -> list[dict[str, Any]] | None:
    """The bot messages that answered the user message `message_id`, or None if it was never recorded."""
    from rasa.shared.core.events import BotUttered, UserUttered

    replies: list[dict[str, Any]] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break  # the next turn
            if event.message_id == message_id:
                replies = []
        elif replies is not None and isinstance(event, BotUttered):
            replies.append(event.message())
    return replies


def install_replay() -> None:
    """Make Rasa's MessageProcessor answer a retried message from the tracker (see the module doc)."""
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.handle_message
    if getattr(original, "replays_retries", False):
        return

    async def handle_message(self: MessageProcessor, message: UserMessage) -> list[dict[str, Any]] | None:
        metadata = message.metadata or {}
        if (
            metadata.get("retry")
            and metadata.get("message_id")
            and isinstance(message.output_channel, CollectingOutputChannel)
        ):
            tracker = await self.tracker_store.retrieve(message.sender_id)
            replies = replayed_replies(list(tracker.events), metadata["message_id"]) if tracker else None
            if replies is not None:
                for reply in replies:
                    await message.output_channel.send_response(message.sender_id, reply)
                return message.output_channel.messages
        return await original(self, message)

    handle_message.replays_retries = True  # type: ignore[attr-defined]
    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]
