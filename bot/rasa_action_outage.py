"""A turn whose custom action failed is neither recorded nor answered by Rasa (loaded in the Rasa
process; scripts/rasa_server.py installs it).

Rasa 3.6 carries on when a custom action fails (the action server is down, killed, restarting):
it logs the error, records the citizen's turn without what the action would have said, and answers
nothing.  The bot service counts the empty answer as a failure and sends the message again later,
as a retry; Rasa then found the turn already recorded (bot/rasa_channel.py replays a recorded
turn's replies) and replayed its nothing, until the bot service gave the message up: after a kill
of the action server, the citizens' messages in flight were never answered.

Here such a turn is dropped instead: the tracker is not saved and no partial answer goes out, so
the retry, once the action server is back, is handled as the turn it is.  The conversation's lock
is held all along, so nothing else happens to the tracker meanwhile.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

# Set when a custom action fails during the message being handled (one asyncio task per message:
# Rasa awaits its actions in the same task, so they see this message's value).
_action_failed: ContextVar[bool] = ContextVar("jsb_action_failed", default=False)


def install() -> None:
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor.handle_message, "drops_failed_turns", False):
        return
    run = RemoteAction.run
    save_tracker = MessageProcessor.save_tracker
    handle_message = MessageProcessor.handle_message

    async def run_noting_failure(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise  # a form's normal "not this slot": no failure
        except Exception:
            _action_failed.set(True)
            raise  # Rasa logs it and carries on, as before

    async def save_unless_failed(self: Any, tracker: Any) -> None:
        if _action_failed.get():
            log.warning("turn of %s not recorded: a custom action failed; it comes again", tracker.sender_id)
            return
        await save_tracker(self, tracker)

    async def handle_message_whole_or_not(self: Any, message: Any) -> Any:
        token = _action_failed.set(False)
        try:
            replies = await handle_message(self, message)
            if _action_failed.get():
                messages = getattr(message.output_channel, "messages", None)
                if isinstance(messages, list):
                    messages.clear()  # no half answer: the retry gives the whole one
                return [] if replies is not None else replies
            return replies
        finally:
            _action_failed.reset(token)

    handle_message_whole_or_not.drops_failed_turns = True  # type: ignore[attr-defined]
    RemoteAction.run = run_noting_failure  # type: ignore[method-assign]
    MessageProcessor.save_tracker = save_unless_failed  # type: ignore[method-assign]
    MessageProcessor.handle_message = handle_message_whole_or_not  # type: ignore[method-assign]
