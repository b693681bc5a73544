"""Playing the scenarios against the real stack: one REST conversation per scenario.

Each turn is a `POST /api/v1/messages` (a fresh user id, then the conversation id); a button press
sends the button's title as text and its payload.  After each turn the runner reads Rasa's tracker
for the custom payloads of that turn (why a question went unanswered, the choices of a
clarification) and for the slots the replies do not show.  Messages the service sends on its own
after a turn (e.g. the queue position after a handoff) are fetched from the conversation's history
before the next turn and counted to the turn that caused them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot import texts as service_texts

from .checks import Observed, Verdict, judge, read_slots, turn_payloads, user_messages
from .scenarios import Scenario, Turn

# What every process of the stack gets for this benchmark (and why).
STACK_ENV = {
    # Every turn comes from 127.0.0.1: the REST flood limit (5/s, burst 20) would refuse a benchmark.
    "BOT_API_RATE": "1000",
    "BOT_API_RATE_BURST": "1000",
    # A scenario sends its next turn as soon as the reply is in, faster than a person types (2/s).
    "BOT_API_USER_RATE": "1000",
    "BOT_API_USER_BURST": "1000",
    # A slow answer on a busy machine must still come back in the REST reply, not as an apology.
    "BOT_APOLOGY_AFTER": "55",
    # Helpers "at work" whatever the hour of the run: the waiting state then behaves the same.
    "HELPDESK_HOURS": "always",
}
# How long a turn may wait for an answer the service is still retrying (Rasa busy or restarting).
PENDING_WAIT_S = 150.0
# The service's own notices about a late answer: not the assistant's reply, so not judged.
_LATE_NOTICES = (service_texts.APOLOGY, service_texts.STILL_QUEUED, service_texts.LATE_ANSWER.split("“")[0])


def is_late_notice(message: dict[str, Any]) -> bool:
    return message.get("kind") == "notice" and str(message.get("text", "")).startswith(_LATE_NOTICES)


@dataclass
class TurnResult:
    index: int
    turn: Turn
    sent: str
    observed: Observed
    verdict: Verdict | None = None
    seconds: float = 0.0
    late: bool = False  # the service first apologised and answered after a retry


@dataclass
class ScenarioResult:
    scenario: Scenario
    turns: list[TurnResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(t.verdict is not None and t.verdict.passed for t in self.turns)


def pick_button(turn: Turn, history: list[Observed]) -> dict[str, str] | None:
    """The button a `press` means: by position among the previous reply's buttons, or by title
    (the previous reply first, then earlier ones: a chat window keeps old buttons on screen)."""
    if not history:
        return None
    if isinstance(turn.press, int):
        buttons = history[-1].buttons
        return buttons[turn.press - 1] if 0 < turn.press <= len(buttons) else None
    for observed in reversed(history):
        for exact in (True, False):
            for button in observed.buttons:
                title = button.get("title", "")
                if (title == turn.press) if exact else (str(turn.press) in title):
                    return button
    return None


class Player:
    def __init__(self, bot_url: str, tracker: Callable[[str], dict[str, Any]], session: aiohttp.ClientSession) -> None:
        self.bot_url = bot_url
        self.tracker = tracker
        self.session = session
        self.owners: dict[str, str] = {}  # conversation id -> the user_id it belongs to (REST reads need it)

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(f"{self.bot_url}/api/v1/messages", json=body) as response:
            data = await response.json()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {data}")
            self.owners[data["conversation_id"]] = body["user_id"]
            return dict(data)

    async def _history(self, conversation_id: str, after_seq: int) -> list[dict[str, Any]]:
        url = f"{self.bot_url}/api/v1/conversations/{conversation_id}/messages"
        params = {"user_id": self.owners[conversation_id], "after_seq": str(after_seq)}
        async with self.session.get(url, params=params) as response:
            data = await response.json()
            return list(data.get("messages") or []) if response.status == 200 else []

    async def play(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario)
        user_id = f"bench-{scenario.id}-{uuid.uuid4().hex[:8]}"
        conversation_id: str | None = None
        last_seq = 0
        history: list[Observed] = []
        last_choices: list[str] | None = None
        users_seen = 0  # user messages Rasa has had: a turn the bot service kept (waiting) adds none
        for index, turn in enumerate(scenario.turns):
            if conversation_id is not None and history:
                last_seq = await self._catch_up(conversation_id, last_seq, history[-1])
            body: dict[str, Any] = {"user_id": user_id}
            if conversation_id is not None:
                body["conversation_id"] = conversation_id
            if turn.press is not None:
                button = pick_button(turn, history)
                if button is None:
                    observed = Observed([], history[-1].state if history else "bot", error=f"no button {turn.press!r}")
                    result.turns.append(TurnResult(index, turn, f"[press {turn.press}]", observed))
                    history.append(observed)
                    continue
                body.update(text=button["title"], payload=button["payload"])
                sent = f"[press {button['title']}]"
            else:
                assert turn.say is not None
                body["text"] = turn.say
                sent = turn.say
            started = time.perf_counter()
            late = False
            try:
                data = await self._post(body)
                conversation_id = str(data["conversation_id"])
                replies = [r for r in data.get("replies") or [] if r.get("direction", "out") == "out"]
                if data.get("status") == "pending":
                    late = True
                    data, replies = await self._wait_answer(conversation_id, data)
                replies = [r for r in replies if not is_late_notice(r)]
                last_seq = max([last_seq, int(data["message"]["seq"]), *(int(r["seq"]) for r in replies)])
                tracker = await asyncio.to_thread(self.tracker, conversation_id)
                observed = Observed(
                    replies=replies,
                    state=str(data.get("state")),
                    status=str(data.get("status")),
                    payloads=turn_payloads(tracker, users_seen),
                    slots=read_slots(tracker),
                )
                users_seen = user_messages(tracker)
            except (aiohttp.ClientError, RuntimeError, KeyError, OSError, asyncio.TimeoutError) as err:
                observed = Observed([], history[-1].state if history else "bot", error=str(err)[:200])
            seconds = time.perf_counter() - started
            result.turns.append(TurnResult(index, turn, sent, observed, seconds=seconds, late=late))
            history.append(observed)
        if conversation_id is not None and history:
            await self._catch_up(conversation_id, last_seq, history[-1])
        # Judge at the end, once late messages are in; "@N" refers to the latest clarification.
        for item in result.turns:
            item.verdict = judge(item.turn, item.observed, last_choices)
            choices = item.observed.choices()
            if choices:
                last_choices = choices
        return result

    async def _wait_answer(
        self, conversation_id: str, data: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The service apologised and keeps retrying: wait until the message is settled, as the
        citizen would, and take every reply it got."""
        seq = int(data["message"]["seq"])
        deadline = time.monotonic() + PENDING_WAIT_S
        messages: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            messages = await self._history(conversation_id, seq - 1)
            mine = next((m for m in messages if int(m["seq"]) == seq), None)
            if mine is not None and mine.get("status") != "pending":
                break
        state = await self._state(conversation_id) or data.get("state")
        replies = [m for m in messages if m.get("direction") == "out" and int(m["seq"]) > seq]
        return {**data, "state": state}, replies

    async def _state(self, conversation_id: str) -> str | None:
        url = f"{self.bot_url}/api/v1/conversations/{conversation_id}"
        async with self.session.get(url, params={"user_id": self.owners[conversation_id]}) as response:
            return str((await response.json()).get("state")) if response.status == 200 else None

    async def _catch_up(self, conversation_id: str, last_seq: int, observed: Observed) -> int:
        """Messages sent after the previous turn's reply, before this turn: they belong to it."""
        await asyncio.sleep(0.2)
        for message in await self._history(conversation_id, last_seq):
            last_seq = max(last_seq, int(message["seq"]))
            if message.get("direction") == "out" and not is_late_notice(message):
                observed.replies.append(message)
        return last_seq


async def play_all(
    bot_url: str,
    tracker: Callable[[str], dict[str, Any]],
    scenarios: list[Scenario],
    jobs: int = 2,
    progress: Callable[[ScenarioResult], None] | None = None,
    headers: dict[str, str] | None = None,
) -> list[ScenarioResult]:
    """Every scenario, `jobs` conversations at a time; results in the scenarios' order.  `headers`:
    the calling app's key (bench/stack.py makes one)."""
    semaphore = asyncio.Semaphore(jobs)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        player = Player(bot_url, tracker, session)

        async def one(scenario: Scenario) -> ScenarioResult:
            async with semaphore:
                done = await player.play(scenario)
            if progress is not None:
                progress(done)
            return done

        return list(await asyncio.gather(*(one(s) for s in scenarios)))
