"""The conversation service: one citizen message's path from a connector to Rasa and back.

    connector ─▶ receive(): store (pending) ─▶ per-conversation worker ─▶ Rasa REST channel
                                                      │ replies: store (answered) ─▶ channel.deliver()
                                                      └ Rasa down/slow: apology ≤ apology_after s,
                                                        message stays pending ─▶ retry loop

Answers keep the citizen's order: each conversation has at most one worker, which always takes the
oldest pending message.  Nothing is lost: a message is stored before anything else happens and only
leaves `pending` together with its stored answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bot import inputs, ratings, texts
from bot.channels import ChannelRegistry
from bot.config import BotConfig
from bot.conversations import (
    Button,
    Conversation,
    Direction,
    Kind,
    Message,
    OutgoingDraft,
    State,
    Status,
)
from bot.logs import fields
from bot.payloads import interpret
from bot.rasa_client import RasaClient, RasaUnavailableError
from bot.shared.masking import mask
from bot.store import Store
from bot.tracker_outbox import TrackerOutbox

log = logging.getLogger(__name__)

TYPING_AFTER_S = 0.3  # show the typing indicator only for answers slower than this
MAX_SEQ = 2**63 - 1  # the largest message number SQLite can hold
EMPTY_REPLY_ATTEMPTS = 3  # empty replies while Rasa and the action server are healthy: then give up
DELIVERY_ATTEMPTS = 8  # sends of one answer a channel refused (2+4+…+256 s apart), then a dead letter
DELIVERY_MAX_BACKOFF_S = 300.0
# While messages wait for Rasa or the action server to come back, look this often (a loopback
# health check): the waiting messages go as soon as the restarted process answers.
OUTAGE_POLL_S = 0.5


class InputError(ValueError):
    """The citizen's (or calling app's) input cannot be used; `message` says why, for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Outcome:
    """What became of one citizen message: answered, pending (apology sent) or for_helper."""

    status: str
    replies: list[Message] = field(default_factory=list)


@dataclass
class Receipt:
    message: Message
    duplicate: bool
    outcome: asyncio.Future[Outcome] | None = None


class ServiceObserver(Protocol):
    """Told what happens to conversations (the online helpers' desk listens); must not raise."""

    async def messages_stored(self, conversation: Conversation, messages: Sequence[Message]) -> None: ...

    async def handed_off(self, conversation: Conversation) -> None: ...

    async def handed_back(self, conversation: Conversation) -> None: ...

    async def handoff_repeated(self, conversation: Conversation) -> None: ...


# A button payload the service answers itself (never sent to Rasa): handler -> what to say back.
LocalPayloadHandler = Callable[[Conversation, Message], Awaitable[list[OutgoingDraft]]]


async def _nobody_watches_typing(conversation: Conversation, on: bool) -> None:
    """Without a helpers' desk nobody watches the citizen type."""


class ConversationService:
    def __init__(self, config: BotConfig, store: Store, rasa: RasaClient, channels: ChannelRegistry) -> None:
        self.config = config
        self.store = store
        self.rasa = rasa
        self.channels = channels
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()  # a message arrived while the worker was busy
        self._delayed: set[str] = set()  # the citizen has been told answers are late
        self._outcomes: dict[int, asyncio.Future[Outcome]] = {}
        self._rasa_was_ready = True
        self._started_at = time.time()
        self._background: set[asyncio.Future[Any]] = set()
        self._arrivals: dict[int, float] = {}  # seq -> when it arrived, for the service_ms log field
        self.observers: list[ServiceObserver] = []
        self.tracker_outbox = TrackerOutbox(store.db, rasa)  # the hand-back survives a Rasa outage
        self.local_payloads: dict[str, LocalPayloadHandler] = {}
        # Whether the assistant keeps answering a conversation that waits for a helper.  The helpers'
        # desk decides (yes in service hours, no in the off-hours leave-a-message mode); without a
        # desk, messages while waiting are kept for helpers.
        self.bot_answers_while_waiting: Callable[[Conversation], bool] = lambda conversation: False
        # The live handoff status a channel may show (queue position, expected wait); set by the desk.
        self.handoff_status: Callable[[Conversation], dict[str, Any] | None] = lambda conversation: None
        # The citizen is typing (the widget says so): the desk shows it to the helper who owns the chat.
        self.citizen_typing: Callable[[Conversation, bool], Awaitable[None]] = _nobody_watches_typing

    # -- conversations -----------------------------------------------------------------------

    async def open_conversation(
        self, channel: str, external_id: str, citizen: dict[str, Any] | None = None
    ) -> Conversation:
        """The citizen's open conversation on this channel, or a new one."""
        existing = await self.store.find_open_conversation(channel, external_id)
        return existing or await self.new_conversation(channel, external_id, citizen)

    async def new_conversation(
        self, channel: str, external_id: str, citizen: dict[str, Any] | None = None
    ) -> Conversation:
        conversation = await self.store.create_conversation(channel, external_id, citizen)
        log.info("conversation.new", extra=fields(conversation=conversation.id, channel=channel))
        return conversation

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self.store.get_conversation(conversation_id)

    async def close_conversation(self, conversation: Conversation) -> Conversation:
        closed = await self.store.set_state(conversation.id, State.CLOSED)
        log.info("conversation.closed", extra=fields(conversation=conversation.id))
        return closed

    async def get_message(self, seq: int) -> Message | None:
        return await self.store.get_message(seq)

    async def history(self, conversation: Conversation, after_seq: int = 0, limit: int | None = None) -> list[Message]:
        after_seq = min(max(after_seq, 0), MAX_SEQ)  # SQLite integers end at 2^63 - 1
        return await self.store.history(conversation.id, after_seq, limit or self.config.history_limit)

    def bot_answers(self, conversation: Conversation) -> bool:
        """Rasa answers in state bot, and while waiting for a helper when the desk says so; never
        while a helper owns the conversation."""
        if conversation.state == State.BOT:
            return True
        return conversation.state == State.WAITING_HELPER and self.bot_answers_while_waiting(conversation)

    # -- incoming ----------------------------------------------------------------------------

    def check_text(self, text: Any) -> str:
        if not isinstance(text, str):
            raise InputError("empty", texts.EMPTY)
        if not inputs.visible_text(text):
            # Blank, or only control / zero-width characters (NUL alone): Rasa would get an empty turn
            # ("two misses in a row" then offers a helper); every channel comes through here.
            raise InputError("empty", texts.EMPTY)
        try:
            inputs.check_text(text)  # lone surrogates and NUL inside a message cannot be stored or sent on
        except inputs.BadInputError as err:
            raise InputError(err.code, err.message) from None
        if len(text) > self.config.max_message_chars:
            raise InputError("too_long", texts.TOO_LONG.format(limit=self.config.max_message_chars))
        return text

    async def receive(
        self,
        conversation: Conversation,
        text: str,
        *,
        payload: str | None = None,
        client_id: str | None = None,
        reply_to: int | None = None,
        want_outcome: bool = False,
    ) -> Receipt:
        """Store a citizen message and start answering it; returns once it is safely stored."""
        arrived = time.perf_counter()
        text = self.check_text(text)
        if payload is not None:
            payload = self.check_text(payload)
        conversation = await self.store.get_conversation(conversation.id) or conversation  # fresh state
        if conversation.state == State.CLOSED:
            raise InputError("closed", texts.CLOSED_CONVERSATION)
        handled_here = (
            not self.bot_answers(conversation) or payload == texts.BACK_TO_BOT_PAYLOAD or payload in self.local_payloads
        )
        message, duplicate = await self.store.add_incoming(
            conversation.id,
            text,
            payload=payload,
            client_id=client_id,
            reply_to=reply_to,
            status=Status.ANSWERED if handled_here else Status.PENDING,
        )
        if duplicate:
            return Receipt(message, True)
        log.debug(
            "message.in",
            extra=fields(conversation=conversation.id, seq=message.seq, channel=conversation.channel, chars=len(text)),
        )
        log.debug("message.text", extra=fields(conversation=conversation.id, seq=message.seq, text=text))  # masked
        outcome = self._expect_outcome(message.seq) if want_outcome else None
        await self._notify("messages_stored", conversation, [message])
        if handled_here:
            await self._handle_without_rasa(conversation, message)
        elif conversation.id in self._delayed:
            # Rasa is known to be down or slow: say so now instead of after another timeout.
            await self._still_queued(conversation, message)
        else:
            self._arrivals[message.seq] = arrived
            self._kick(conversation.id)
        return Receipt(message, False, outcome)

    async def rate(
        self,
        conversation: Conversation,
        seq: int,
        value: Any,
        *,
        reason: Any = None,
        comment: Any = None,
        client_id: str | None = None,
        want_outcome: bool = False,
    ) -> Receipt:
        """好差评 on an answer or on a helper's conversation: a state on the rated message, stored at once.

        Nothing is said in the chat and Rasa is not asked, so the dialogue (a walkthrough's buttons, a
        clarifying question) carries on as it was.  `value` is a level 1-5 (or the old good/bad).
        """
        try:
            level = ratings.level_of(value)
            reason, comment = ratings.check_reason(reason, comment)
        except ratings.RatingError as err:
            raise InputError(err.code, err.message) from None
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq <= MAX_SEQ:
            raise InputError("not_ratable", texts.NOTHING_TO_RATE)
        target = await self.store.get_message(seq)
        if target is None or target.conversation_id != conversation.id or target.direction != Direction.OUT:
            raise InputError("not_ratable", texts.NOTHING_TO_RATE)
        kind = target.extra.get("rate")
        if target.entry is not None:
            kind = "answer"
        if kind not in ratings.TARGETS:
            raise InputError("not_ratable", texts.NOTHING_TO_RATE)
        claim = target.extra.get("claim_id")
        await self.store.add_rating(
            conversation,
            level,
            message_seq=seq,
            entry_id=target.entry.id if target.entry else _str(target.extra.get("service")),
            entry_title=target.entry.title if target.entry else _str(target.extra.get("service_title")),
            comment=comment,
            reason=reason,
            target=kind,
            claim_id=claim if isinstance(claim, int) else None,
            helper=_str(target.extra.get("helper")),
            due_at=time.time() + self.config.rating_follow_up_days * 86400 if ratings.is_low(level) else None,
        )
        log.info("rating.stored", extra=fields(conversation=conversation.id, seq=seq, level=level, target=kind))
        rated = await self.store.get_message(seq)
        assert rated is not None
        outcome = None
        if want_outcome:
            outcome = asyncio.get_running_loop().create_future()
            outcome.set_result(Outcome("answered", []))
        return Receipt(rated, False, outcome)

    def forget_outcome(self, seq: int) -> None:
        self._outcomes.pop(seq, None)

    def _expect_outcome(self, seq: int) -> asyncio.Future[Outcome]:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._outcomes[seq] = future
        return future

    def _resolve(self, seq: int, outcome: Outcome) -> None:
        future = self._outcomes.pop(seq, None)
        if future is not None and not future.done():
            future.set_result(outcome)

    async def _handle_without_rasa(self, conversation: Conversation, message: Message) -> None:
        """Messages Rasa does not see (a helper owns the conversation, or the citizen left a message
        off hours), the citizen's 'back to the bot' button and the desk's own buttons."""
        local = self.local_payloads.get(message.payload or "")
        if local is not None:
            replies = await self._say(conversation, await local(conversation, message), message.seq)
            self._resolve(message.seq, Outcome("answered", replies))
            return
        if message.payload == texts.BACK_TO_BOT_PAYLOAD:
            if conversation.state in (State.WAITING_HELPER, State.WITH_HELPER):
                conversation = await self.hand_back(conversation)
            replies = await self._say(conversation, [OutgoingDraft(texts.BACK_TO_BOT, Kind.NOTICE)], message.seq)
            self._resolve(message.seq, Outcome("answered", replies))
            return
        await self.store.set_status([message.seq], Status.FOR_HELPER)
        replies = []
        if conversation.state == State.WAITING_HELPER:
            replies = await self._say(conversation, [OutgoingDraft(texts.WAITING_FOR_HELPER, Kind.NOTICE)], message.seq)
        self._resolve(message.seq, Outcome("for_helper", replies))

    async def hand_back(self, conversation: Conversation, slots: dict[str, Any] | None = None) -> Conversation:
        """Give the conversation back to the assistant and tell Rasa (docs/payloads.md, "Hand back")."""
        conversation = await self.store.set_state(conversation.id, State.BOT)
        events = [{"event": "slot", "name": "handoff_active", "value": False}]
        events += [{"event": "slot", "name": name, "value": value} for name, value in (slots or {}).items()]
        if not await self.tracker_outbox.send(conversation.id, events):
            log.warning("handoff.hand_back.rasa_told_later", extra=fields(conversation=conversation.id))
        log.info("handoff.hand_back", extra=fields(conversation=conversation.id))
        await self._notify("handed_back", conversation)
        return conversation

    async def say(self, conversation: Conversation, drafts: list[OutgoingDraft]) -> list[Message]:
        """Store and deliver messages that answer nothing in particular (helpers, queue notices)."""
        return await self._say(conversation, drafts, None)

    async def _notify(self, event: str, conversation: Conversation, *args: Any) -> None:
        for observer in self.observers:
            try:
                await getattr(observer, event)(conversation, *args)
            except Exception:
                log.exception("observer.failed", extra=fields(conversation=conversation.id, event=event))

    async def _still_queued(self, conversation: Conversation, message: Message) -> None:
        replies = await self._say(conversation, [OutgoingDraft(texts.STILL_QUEUED, Kind.NOTICE)], message.seq)
        await self.store.mark_apologized(message.seq)
        self._resolve(message.seq, Outcome("pending", replies))
        if conversation.id in self._workers:
            self._again.add(conversation.id)

    # -- the worker --------------------------------------------------------------------------

    def _kick(self, conversation_id: str) -> None:
        self._again.add(conversation_id)
        if conversation_id not in self._workers:
            self._workers[conversation_id] = asyncio.create_task(
                self._drain(conversation_id), name=f"conversation-{conversation_id}"
            )

    async def _drain(self, conversation_id: str) -> None:
        conversation: Conversation | None = None
        try:
            while True:
                self._again.discard(conversation_id)
                message, state = await self.store.next_pending_and_state(conversation_id)
                if message is None:
                    if conversation_id in self._again:
                        continue
                    return
                if conversation is None:
                    conversation = await self.store.get_conversation(conversation_id)
                    if conversation is None:
                        return
                conversation = replace(conversation, state=state)  # the state just read, not a stale copy
                if not self.bot_answers(conversation):
                    # Claimed (or left off hours) while this message waited: the helper gets it, not Rasa.
                    await self.store.set_status([message.seq], Status.FOR_HELPER)
                    continue
                if not await self._process(conversation, message):
                    # Rasa is down: the retry loop picks this conversation up again.  Messages queued
                    # behind this one are told so now, not after their own timeout.
                    for waiting in await self.store.pending_in(conversation_id):
                        if not waiting.apologized:
                            await self._still_queued(conversation, waiting)
                    return
        except Exception:
            log.exception("conversation.worker.failed", extra=fields(conversation=conversation_id))
        finally:
            self._workers.pop(conversation_id, None)

    async def _process(self, conversation: Conversation, message: Message) -> bool:
        """Ask Rasa about one message; True when it was answered."""
        if not await self.tracker_outbox.deliver(conversation.id):
            # Rasa must hear the hand-back before this message, or it would still wait for a helper.
            self._arrivals.pop(message.seq, None)
            await self._failed(conversation, message, "hand-back events not delivered yet")
            return False
        started = time.perf_counter()
        # The message's id lets Rasa recognise a retry of a turn it already recorded (bot/rasa_channel.py).
        # A retry: an earlier call failed, or the message is older than this process (the service was
        # killed while Rasa may have been answering it).
        retry = message.attempts > 0 or message.created_at < self._started_at
        metadata = {"channel": conversation.channel, "message_id": f"jsb-{message.seq}", "retry": retry}
        call = asyncio.ensure_future(self.rasa.send(conversation.id, message.rasa_text, metadata))
        # "正在输入…" only when the answer is not there at once: no flicker, no extra frames.
        typing_shown = False

        def start_typing() -> None:
            nonlocal typing_shown
            if not call.done():
                typing_shown = True
                task = asyncio.ensure_future(self.channels.typing(conversation, True))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

        typing = asyncio.get_running_loop().call_later(TYPING_AFTER_S, start_typing)
        try:
            try:
                replies = await asyncio.wait_for(asyncio.shield(call), self.config.apology_after)
            except asyncio.TimeoutError:
                if not message.apologized:
                    await self._apologize(conversation, message)
                    message = await self.store.get_message(message.seq) or message
                self._delayed.add(conversation.id)
                replies = await call  # bounded by the client's own timeout (BOT_RASA_TIMEOUT)
        except RasaUnavailableError as err:
            self._arrivals.pop(message.seq, None)
            if err.empty and message.attempts + 1 >= EMPTY_REPLY_ATTEMPTS and await self._actions_known_healthy():
                # Everything is up, yet Rasa keeps answering nothing to this message: stop retrying it.
                await self.give_up(conversation, message, "empty_reply")
                return True
            await self._failed(conversation, message, str(err))
            return False
        except asyncio.CancelledError:
            call.cancel()  # shutting down: the message stays pending for the next start
            raise
        finally:
            typing.cancel()
            if typing_shown:
                with contextlib.suppress(Exception):
                    await self.channels.typing(conversation, False)
        rasa_seconds = time.perf_counter() - started
        await self._answer(conversation, message, replies)
        arrived = self._arrivals.pop(message.seq, None)
        timing = {"rasa_ms": round(rasa_seconds * 1000, 2)}
        if arrived is not None and not message.apologized:
            # What this service added to the citizen's wait: arrival to answer sent, minus Rasa's part.
            timing["service_ms"] = round((time.perf_counter() - arrived - rasa_seconds) * 1000, 2)
        log.info(
            "message.answered",
            extra=fields(conversation=conversation.id, seq=message.seq, attempts=message.attempts + 1, **timing),
        )
        self._delayed.discard(conversation.id)
        return True

    async def _answer(self, conversation: Conversation, message: Message, replies: list[dict[str, Any]]) -> None:
        result = interpret(replies)
        drafts = list(result.drafts)
        if message.apologized:
            question = _echo(message.text)
            drafts.insert(0, OutgoingDraft(texts.LATE_ANSWER.format(question=question), Kind.NOTICE))
        events = result.events
        queued_now = result.handoff is not None and conversation.state == State.BOT
        # Asked for a helper again while waiting: keep the place in the queue (no new handoff).
        repeated = result.handoff is not None and conversation.state == State.WAITING_HELPER
        if repeated:
            events = [(kind, data) for kind, data in events if kind != "handoff"]
        if queued_now:
            conversation = await self.store.set_state(conversation.id, State.WAITING_HELPER)
            await self.store.add_handoff(conversation, result.handoff)
            log.info(
                "handoff.requested", extra=fields(conversation=conversation.id, reason=result.handoff.get("reason"))
            )
            back = Button(texts.BACK_TO_BOT_BUTTON, texts.BACK_TO_BOT_PAYLOAD)
            drafts.append(OutgoingDraft(texts.HANDOFF_NOTICE, Kind.NOTICE, buttons=(back,), extra={"queue": True}))
        for rating in result.ratings:
            await self._store_rating(conversation, message, rating)
        stored = await self.store.record_answer(conversation, drafts, answers=message.seq, events=events)
        await self.store.track_questions(conversation, message, result.unresolved, result.answered_entries)
        await self._deliver(conversation, stored)
        self._resolve(message.seq, Outcome("answered", stored))
        if queued_now:
            await self._notify("handed_off", conversation)
        elif repeated:
            await self._notify("handoff_repeated", conversation)

    async def _store_rating(self, conversation: Conversation, message: Message, rating: dict[str, Any]) -> None:
        """Prefer the answer the citizen clicked on; Rasa's entry_id is its last answer."""
        rated = await self.store.get_message(message.reply_to) if message.reply_to else None
        if rated is not None and (rated.conversation_id != conversation.id or rated.entry is None):
            rated = None
        level = ratings.LEGACY[rating["value"]]
        await self.store.add_rating(
            conversation,
            level,
            message_seq=rated.seq if rated else None,
            entry_id=rated.entry.id if rated and rated.entry else _str(rating.get("entry_id")),
            entry_title=rated.entry.title if rated and rated.entry else None,
            comment=_str(rating.get("comment")),
            due_at=time.time() + self.config.rating_follow_up_days * 86400 if ratings.is_low(level) else None,
        )

    async def _actions_known_healthy(self) -> bool:
        """Only with ACTION_URL set can an empty reply be told apart from an action-server outage."""
        return self.rasa.action_url is not None and await self.rasa.is_ready()

    async def give_up(self, conversation: Conversation, message: Message, reason: str) -> None:
        """Tell the citizen this one will not be answered; the message stays stored for helpers."""
        question = _echo(message.text)
        replies = await self.store.record_answer(
            conversation,
            [OutgoingDraft(texts.GAVE_UP.format(question=question), Kind.NOTICE)],
            answers=message.seq,
            events=[("unanswered", {"seq": message.seq, "reason": reason, "attempts": message.attempts + 1})],
            status=Status.UNANSWERED,
        )
        log.warning("message.given_up", extra=fields(conversation=conversation.id, seq=message.seq, reason=reason))
        await self._deliver(conversation, replies)
        self._resolve(message.seq, Outcome("unanswered", replies))

    async def _failed(self, conversation: Conversation, message: Message, reason: str) -> None:
        backoff = min(self.config.retry_interval * 2 ** min(message.attempts, 10), self.config.retry_max_backoff)
        message = await self.store.mark_attempt_failed(message.seq, time.time() + backoff)
        log.warning(
            "rasa.unavailable",
            extra=fields(conversation=conversation.id, seq=message.seq, attempts=message.attempts, reason=reason),
        )
        self._delayed.add(conversation.id)
        if not message.apologized:
            await self._apologize(conversation, message)
        else:
            self._resolve(message.seq, Outcome("pending"))

    async def _apologize(self, conversation: Conversation, message: Message) -> None:
        replies = await self._say(conversation, [OutgoingDraft(texts.APOLOGY, Kind.NOTICE)], message.seq)
        await self.store.mark_apologized(message.seq)
        self._resolve(message.seq, Outcome("pending", replies))

    async def _say(
        self, conversation: Conversation, drafts: list[OutgoingDraft], reply_to: int | None
    ) -> list[Message]:
        stored = await self.store.add_outgoing(conversation.id, drafts, reply_to=reply_to)
        await self._deliver(conversation, stored)
        return stored

    async def _deliver(self, conversation: Conversation, messages: list[Message]) -> None:
        await self._notify("messages_stored", conversation, messages)
        if not await self.channels.deliver(conversation, messages):
            await self._delivery_failed(conversation, messages)

    async def _delivery_failed(self, conversation: Conversation, messages: Sequence[Message]) -> None:
        """Try again later, each time waiting twice as long (capped), and after DELIVERY_ATTEMPTS
        tries stop: the message becomes a dead letter that admins see, instead of being sent every
        two seconds forever to a chat that cannot take it."""
        for message in messages:
            tries = message.attempts + 1
            if tries >= DELIVERY_ATTEMPTS:
                await self.store.delivery_failed(message.seq, None)
                log.warning(
                    "delivery.dead_letter",
                    extra=fields(
                        conversation=conversation.id, seq=message.seq, channel=conversation.channel, tries=tries
                    ),
                )
            else:
                wait = min(self.config.retry_interval * 2**tries, DELIVERY_MAX_BACKOFF_S)
                await self.store.delivery_failed(message.seq, time.time() + wait)

    # -- retry loop --------------------------------------------------------------------------

    async def retry_forever(self) -> None:
        while True:
            interval = self.config.retry_interval
            await asyncio.sleep(interval if self._rasa_was_ready else min(interval, OUTAGE_POLL_S))
            try:
                await self.retry_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retry.failed")

    async def retry_once(self) -> int:
        """Restart answering where messages wait; returns how many conversations were restarted."""
        await self._redeliver()
        await self._expire()
        if self.tracker_outbox.held() and await self.rasa.is_ready():
            await self.tracker_outbox.deliver_all()
        waiting = await self.store.conversations_to_retry()
        waiting = [cid for cid in waiting if cid not in self._workers]
        if not waiting:
            return 0
        if not await self.rasa.is_ready():
            self._rasa_was_ready = False
            return 0
        if not self._rasa_was_ready:
            targets = waiting  # Rasa just came back: everything waiting goes now, whatever its backoff
        else:
            due = set(await self.store.conversations_to_retry(time.time()))
            targets = [cid for cid in waiting if cid in due]
        self._rasa_was_ready = True
        for conversation_id in targets:
            self._kick(conversation_id)
        if targets:
            log.info("retry.started", extra=fields(conversations=len(targets)))
        return len(targets)

    async def _expire(self) -> None:
        """Messages pending longer than BOT_PENDING_MAX_AGE are given up on, whatever Rasa's state."""
        for message in await self.store.pending_older_than(time.time() - self.config.pending_max_age):
            if message.conversation_id in self._workers:
                continue
            conversation = await self.store.get_conversation(message.conversation_id)
            if conversation is not None:
                await self.give_up(conversation, message, "too_old")

    async def _redeliver(self) -> None:
        messages = await self.store.undelivered(due_before=time.time())
        by_conversation: dict[str, list[Message]] = {}
        for message in messages:
            by_conversation.setdefault(message.conversation_id, []).append(message)
        for conversation_id, batch in by_conversation.items():
            conversation = await self.store.get_conversation(conversation_id)
            if conversation is None:
                continue
            if await self.channels.deliver(conversation, batch):
                await self.store.set_status([m.seq for m in batch], Status.SENT)
            else:
                await self._delivery_failed(conversation, batch)

    # -- shutdown ----------------------------------------------------------------------------

    async def close(self, grace: float) -> None:
        """Let running answers finish for up to `grace` seconds; the rest stay pending for next time."""
        workers = list(self._workers.values())
        if workers:
            _, unfinished = await asyncio.wait(workers, timeout=grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        for future in self._outcomes.values():
            if not future.done():
                future.set_result(Outcome("pending"))
        self._outcomes.clear()


def _echo(text: str, limit: int = 20) -> str:
    """The citizen's question quoted back, masked before it is cut: a cut ID number (17 of its 18
    digits) would no longer look like one, and helpers and staff would then see it unmasked."""
    text = mask(text)
    return text if len(text) <= limit else text[:limit] + "…"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
