"""How the service pushes messages back out: each connector registers one `Channel` under its name."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from bot.conversations import Conversation, Message
from bot.logs import fields

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: str

    async def deliver(self, conversation: Conversation, messages: Sequence[Message]) -> bool:
        """Show the messages to the citizen; False when they must be sent again later.

        Channels the citizen pulls from (the widget's history, the REST API) return True even when
        nobody is listening right now: the stored history is the delivery.
        """
        ...

    async def typing(self, conversation: Conversation, on: bool) -> None:
        """Show or hide "正在输入…" where the channel can."""
        ...


class StatusChannel(Channel, Protocol):
    async def status(self, conversation: Conversation, status: dict[str, Any]) -> None:
        """Show the conversation's live handoff status (queue position, expected wait, helper)."""
        ...


class ChannelRegistry:
    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def register(self, channel: Channel) -> None:
        self._channels[channel.name] = channel

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)

    async def deliver(self, conversation: Conversation, messages: Sequence[Message]) -> bool:
        channel = self._channels.get(conversation.channel)
        if channel is None or not messages:
            return True  # pull-only channel: the history is the delivery
        try:
            return await channel.deliver(conversation, messages)
        except Exception:
            log.exception("channel.deliver.failed", extra=fields(channel=conversation.channel))
            return False

    async def typing(self, conversation: Conversation, on: bool) -> None:
        channel = self._channels.get(conversation.channel)
        if channel is None:
            return
        try:
            await channel.typing(conversation, on)
        except Exception:
            log.warning("channel.typing.failed", extra=fields(channel=conversation.channel), exc_info=True)

    async def status(self, conversation: Conversation, status: dict[str, Any]) -> None:
        """Push the handoff status to channels that show it live (the widget); others ignore it."""
        channel = self._channels.get(conversation.channel)
        if channel is None or not hasattr(channel, "status"):
            return
        try:
            await channel.status(conversation, status)
        except Exception:
            log.warning("channel.status.failed", extra=fields(channel=conversation.channel), exc_info=True)
