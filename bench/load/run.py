"""The load itself: simulated citizens in a closed loop (each sends its next message when the reply
to the last one arrives), half through the REST API and half through widget websockets, plus the
same loop against plain Rasa's REST channel for the anchor line.  A sampler reads CPU times and RSS
of every service process once a second.  Everything talks to loopback only.

A turn's latency is from sending the message to the reply: the REST response (which the service
gives after BOT_APOLOGY_AFTER with status `pending` when Rasa is slower), or on the widget the first
outgoing message that answers it (an apology notice counts as `pending`, like REST).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import psutil

from bench.load.metrics import by_length, cpu_ms_per_turn, head_of_line_delay, latency_summary, percentile
from bot import texts

TURN_TIMEOUT = 90.0  # a turn without any reply after this long is an error (and the citizen moves on)
PENDING_NOTICES = (texts.APOLOGY, texts.STILL_QUEUED)


@dataclass
class Turn:
    citizen: int
    channel: str  # rest | widget | anchor
    chars: int
    started: float  # seconds since the level began
    latency: float  # seconds until the real answer
    status: str  # answered | pending (an apology came first, then the answer) | for_helper | error:<what>
    first: float = 0.0  # seconds until the first reply (the apology for `pending` turns)
    long_probe: bool = False


@dataclass
class Level:
    system: str  # "jishiban" or "anchor"
    concurrency: int
    duration: float
    wall: float = 0.0
    turns: list[Turn] = field(default_factory=list)
    cpu_before: dict[str, float] = field(default_factory=dict)
    cpu_after: dict[str, float] = field(default_factory=dict)
    cpu_drained: dict[str, float] = field(default_factory=dict)  # after the backlog drained
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    backlog_at_end: int | None = None
    drain_seconds: float | None = None
    backlog_after_drain: int | None = None

    def summary(self) -> dict[str, Any]:
        done = [turn for turn in self.turns if not turn.long_probe]
        answered = [turn for turn in done if turn.status == "answered"]
        errors = [turn for turn in done if turn.status.startswith("error")]
        sent = [turn for turn in done if turn.status != "for_helper" and turn.chars > 0]
        # Turns Rasa answered (plain Rasa may answer with no message at all: `empty`, still a finished turn).
        replied = [turn for turn in done if turn.status in ("answered", "pending", "empty")]
        return {
            "system": self.system,
            "concurrency": self.concurrency,
            "duration_s": self.duration,
            "wall_s": round(self.wall, 1),
            "turns": len(done),
            "turns_per_s": len(replied) / self.wall if self.wall else 0.0,
            "answered_per_s": len(answered) / self.wall if self.wall else 0.0,
            **latency_summary([turn.latency for turn in replied]),
            "answered_p95_ms": percentile([turn.latency * 1000 for turn in answered], 95),
            "first_reply_p95_ms": percentile([turn.first * 1000 for turn in replied], 95),
            "pending_share": sum(turn.status == "pending" for turn in done) / len(done) if done else 0.0,
            "for_helper": sum(turn.status == "for_helper" for turn in done),
            "empty": sum(turn.status == "empty" for turn in done),
            "errors": len(errors),
            "error_kinds": sorted({turn.status for turn in errors}),
            "by_channel": {
                channel: {
                    "turns": len(chosen),
                    **latency_summary([turn.latency for turn in chosen]),
                    "pending_share": sum(turn.status == "pending" for turn in chosen) / len(chosen),
                }
                for channel in sorted({turn.channel for turn in done})
                if (chosen := [turn for turn in replied if turn.channel == channel])
            },
            "by_length": by_length([(turn.chars, turn.latency) for turn in replied]),
            "cpu_ms_per_turn": cpu_ms_per_turn(self.cpu_before, self.cpu_after, len(replied)),
            # Every message sent reaches Rasa sooner or later (those whose citizen gave up too): the CPU of
            # the level and its drain over all of them is the cost of one message, whatever the latency.
            "cpu_ms_per_message": cpu_ms_per_turn(self.cpu_before, self.cpu_drained or self.cpu_after, len(sent)),
            "messages_sent": len(sent),
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "backlog_at_end": self.backlog_at_end,
            "drain_s": self.drain_seconds,
            "backlog_after_drain": self.backlog_after_drain,
        }


class Sampler:
    """CPU times and RSS of each process, every `interval` seconds, into a timeline."""

    def __init__(self, pids: dict[str, list[int]], interval: float = 1.0) -> None:
        # A role may have several processes (Rasa: a main process and its Sanic workers): summed.
        self.processes = {role: [psutil.Process(pid) for pid in group] for role, group in pids.items()}
        self.processes["client"] = [psutil.Process(os.getpid())]  # the load generator shares the 2 cores
        self.interval = interval
        self.timeline: list[dict[str, Any]] = []
        self.label = "idle"
        self.started = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def cpu(self) -> dict[str, float]:
        found = {}
        for role, group in self.processes.items():
            try:
                found[role] = sum(p.cpu_times().user + p.cpu_times().system for p in group)
            except psutil.Error:
                found[role] = float("nan")
        return found

    def rss_mb(self) -> dict[str, float]:
        """Resident memory per role, summed over its processes (forked workers share pages, which
        RSS counts in each: pss_mb below splits them fairly)."""
        found = {}
        for role, group in self.processes.items():
            try:
                found[role] = sum(p.memory_info().rss for p in group) / 2**20
            except psutil.Error:
                found[role] = float("nan")
        return found

    def pss_mb(self) -> dict[str, float]:
        found = {}
        for role, group in self.processes.items():
            try:
                found[role] = sum(p.memory_full_info().pss for p in group) / 2**20
            except (psutil.Error, AttributeError):
                found[role] = float("nan")
        return found

    async def _loop(self) -> None:
        while True:
            self.timeline.append(
                {
                    "t": round(time.monotonic() - self.started, 1),
                    "phase": self.label,
                    "rss_mb": self.rss_mb(),
                    "pss_mb": self.pss_mb(),
                    "load1": os.getloadavg()[0],
                }
            )
            await asyncio.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


class Script:
    """A citizen's messages: the whole set in its own seeded order, round and round."""

    def __init__(self, messages: list[str], seed: int) -> None:
        self.order = random.Random(seed).sample(messages, len(messages))
        self.index = 0

    def next(self) -> str:
        text = self.order[self.index % len(self.order)]
        self.index += 1
        return text


async def rest_citizen(
    http: aiohttp.ClientSession, bot_url: str, number: int, script: Script, until: float, origin: float, run: str
) -> list[Turn]:
    turns, user, conversation = [], f"{run}-rest-{number}", 0
    while time.monotonic() < until:
        text = script.next()
        started = time.monotonic()
        first = latency = 0.0
        try:
            citizen = f"{user}-{conversation}"
            async with http.post(bot_url + "/api/v1/messages", json={"user_id": citizen, "text": text}) as response:
                body = await response.json()
                status = str(body.get("status")) if response.status == 200 else f"error:http_{response.status}"
            first = latency = time.monotonic() - started
            if status == "pending":  # an apology: the citizen waits for the real answer, as asked to
                if await rest_answer(http, bot_url, citizen, body["conversation_id"], body["message"]["seq"], started):
                    latency = time.monotonic() - started
                else:
                    status = "error:no_answer"
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            body, status = {}, f"error:{type(err).__name__}"
        turns.append(Turn(number, "rest", len(text), started - origin, latency, status, first))
        if body.get("state") not in (None, "bot"):
            conversation += 1  # handed to a helper ("转人工"): the next question opens a new conversation
    return turns


async def rest_answer(
    http: aiohttp.ClientSession, bot_url: str, user_id: str, conversation_id: str, seq: int, started: float
) -> bool:
    """Poll the conversation's history (4 times a second) until an answer to `seq` is there."""
    url = f"{bot_url}/api/v1/conversations/{conversation_id}/messages"
    while time.monotonic() - started < TURN_TIMEOUT:
        async with http.get(url, params={"user_id": user_id, "after_seq": str(seq)}) as response:
            history = (await response.json()).get("messages", [])
        if any(m["direction"] == "out" and m.get("reply_to") == seq and not _is_apology(m) for m in history):
            return True
        await asyncio.sleep(0.25)
    return False


class Widget:
    """One widget connection, speaking the protocol of connectors/webwidget/socket.py."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.late = 0  # answers that came after their apology (to earlier messages)

    async def frame(self, timeout: float) -> dict[str, Any]:
        message = await self.ws.receive(timeout=timeout)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"websocket closed ({message.type.name})")
        return dict(message.json())

    async def hello(self, visitor: str) -> None:
        await self.ws.send_json({"type": "hello", "conversation_id": None, "visitor_id": visitor, "after_seq": 0})
        while (await self.frame(TURN_TIMEOUT))["type"] != "welcome":
            pass

    async def turn(self, text: str) -> tuple[str, float]:
        """Send one message and wait for the answer to it: the turn's status and its first reply's time."""
        client_id = uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "client_id": client_id, "text": text, "payload": None})
        deadline = time.monotonic() + TURN_TIMEOUT
        started = time.monotonic()
        seq: int | None = None
        first: float | None = None
        apologized = False
        early: list[dict[str, Any]] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "error:timeout", first or 0.0
            try:
                frame = await self.frame(left)
            except asyncio.TimeoutError:
                return "error:timeout", first or 0.0  # recorded with its message and wait, not as a lost socket
            replies: list[dict[str, Any]] = []
            if frame["type"] == "ack" and frame.get("client_id") == client_id:
                seq = frame["message"]["seq"]
                if frame["message"]["status"] == "for_helper":
                    return "for_helper", time.monotonic() - started
                early, replies = [], early
            elif frame["type"] == "error":
                return f"error:{frame.get('code')}", time.monotonic() - started
            elif frame["type"] == "message" and frame["message"]["direction"] == "out":
                if seq is None:
                    early.append(frame["message"])
                else:
                    replies = [frame["message"]]
            for message in replies:
                if message.get("reply_to") != seq:
                    self.late += 1
                    continue
                if first is None:
                    first = time.monotonic() - started
                if message["kind"] == "notice" and not _is_apology(message):
                    return "for_helper", first  # "a helper will see this": handed off earlier ("转人工")
                if not _is_apology(message):  # the real answer; after an apology the turn was `pending`
                    return ("pending" if apologized else "answered"), first
                apologized = True


def _is_apology(message: dict[str, Any]) -> bool:
    """The service's "busy, will answer later" notices (texts.APOLOGY / STILL_QUEUED)."""
    return message["kind"] == "notice" and message["text"] in PENDING_NOTICES


async def widget_citizen(
    http: aiohttp.ClientSession, bot_url: str, number: int, script: Script, until: float, origin: float, run: str
) -> list[Turn]:
    turns: list[Turn] = []
    ws_url = bot_url.replace("http://", "ws://") + "/ws"
    visitor = f"{run}-widget-{number}".replace(".", "-")[-64:]
    while time.monotonic() < until:
        try:
            async with http.ws_connect(ws_url, headers={"Origin": bot_url}) as ws:
                widget = Widget(ws)
                await widget.hello(visitor)
                while time.monotonic() < until:
                    text = script.next()
                    started = time.monotonic()
                    status, first = await widget.turn(text)
                    latency = time.monotonic() - started
                    turns.append(Turn(number, "widget", len(text), started - origin, latency, status, first))
                    if status == "for_helper":
                        break  # reconnect: a new conversation for the next question
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as err:
            turns.append(Turn(number, "widget", 0, time.monotonic() - origin, 0.0, f"error:{type(err).__name__}"))
            await asyncio.sleep(1)
    return turns


async def anchor_citizen(
    http: aiohttp.ClientSession, rasa_url: str, number: int, script: Script, until: float, origin: float, run: str
) -> list[Turn]:
    turns = []
    while time.monotonic() < until:
        text = script.next()
        started = time.monotonic()
        try:
            async with http.post(
                rasa_url + "/webhooks/rest/webhook", json={"sender": f"{run}-anchor-{number}", "message": text}
            ) as response:
                body = await response.json()
                status = (
                    ("answered" if body else "empty") if response.status == 200 else f"error:http_{response.status}"
                )
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            status = f"error:{type(err).__name__}"
        latency = time.monotonic() - started
        turns.append(Turn(number, "anchor", len(text), started - origin, latency, status, latency))
    return turns


Citizen = Callable[[aiohttp.ClientSession, str, int, Script, float, float, str], Awaitable[list[Turn]]]


async def backlog(http: aiohttp.ClientSession, bot_url: str) -> int:
    async with http.get(bot_url + "/healthz") as response:
        return int((await response.json())["pending_messages"])


async def run_level(
    system: str,
    url: str,
    concurrency: int,
    duration: float,
    messages: list[str],
    sampler: Sampler,
    seed: int,
    drain_timeout: float = 0.0,
    headers: dict[str, str] | None = None,
) -> Level:
    """`concurrency` citizens for `duration` seconds; each stops after the turn that crosses the end."""
    level = Level(system, concurrency, duration)
    run = f"{system}-c{concurrency}-{uuid.uuid4().hex[:6]}"
    sampler.label = f"{system} c={concurrency}"
    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as http:
        level.load_before, level.cpu_before = os.getloadavg(), sampler.cpu()
        origin = time.monotonic()
        until = origin + duration
        citizens = []
        for number in range(concurrency):
            kind: Citizen
            if system == "anchor":
                kind = anchor_citizen
            else:
                kind = rest_citizen if number % 2 == 0 else widget_citizen
            script = Script(messages, seed * 1000 + concurrency * 100 + number)
            citizens.append(kind(http, url, number, script, until, origin, run))
        for turns in await asyncio.gather(*citizens):
            level.turns.extend(turns)
        level.wall = time.monotonic() - origin
        level.cpu_after, level.load_after = sampler.cpu(), os.getloadavg()
        if system != "anchor":
            level.backlog_at_end = await backlog(http, url)
            sampler.label = f"drain after c={concurrency}"
            drained = time.monotonic()
            left = level.backlog_at_end
            while left and time.monotonic() - drained < drain_timeout:
                await asyncio.sleep(2)
                left = await backlog(http, url)
            level.drain_seconds = round(time.monotonic() - drained, 1)
            level.cpu_drained = sampler.cpu()
            level.backlog_after_drain = left
    sampler.label = "idle"
    return level


async def long_prober(
    http: aiohttp.ClientSession,
    bot_url: str,
    long_text: str,
    until: float,
    origin: float,
    run: str,
    flights: list[tuple[float, float, str]],
) -> list[Turn]:
    """Sends the long message again and again (a new conversation each time) until `until`."""
    await asyncio.sleep(3.0)
    number = 0
    while time.monotonic() < until - 2:
        started = time.monotonic()
        try:
            citizen = f"{run}-long-{number}"
            async with http.post(
                bot_url + "/api/v1/messages", json={"user_id": citizen, "text": long_text}
            ) as response:
                body = await response.json()
            status = str(body.get("status"))
            if status == "pending" and not await rest_answer(
                http, bot_url, citizen, body["conversation_id"], body["message"]["seq"], started
            ):
                status = "error:no_answer"
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            status = f"error:{type(err).__name__}"
        flights.append((started - origin, time.monotonic() - origin, status))
        number += 1
        await asyncio.sleep(2)  # let the others settle between two flights
    return []


async def head_of_line(
    bot_url: str,
    background: int,
    window: float,
    messages: list[str],
    long_text: str,
    sampler: Sampler,
    seed: int,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`background` citizens chat for `window` s undisturbed, then for another `window` s while a
    separate REST citizen sends the 4,000-character message again and again.  The others' turns
    that overlap one of its flights are compared with the undisturbed ones."""
    phases: dict[str, list[Turn]] = {}
    flights: list[tuple[float, float, str]] = []
    sampler.label = "head-of-line"
    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as http:
        for phase in ("without", "with"):
            run = f"hol-{phase}-{uuid.uuid4().hex[:6]}"
            origin = time.monotonic()
            until = origin + window
            citizens = [
                (rest_citizen if number % 2 == 0 else widget_citizen)(
                    http, bot_url, number, Script(messages, seed * 7 + number), until, origin, run
                )
                for number in range(background)
            ]
            if phase == "with":
                probe = long_prober(http, bot_url, long_text, until, origin, run, flights)
                results = await asyncio.gather(probe, *citizens)
            else:
                results = await asyncio.gather(*citizens)
            phases[phase] = [turn for turns in results for turn in turns]
    sampler.label = "idle"

    def in_flight(turn: Turn) -> bool:
        return any(turn.started < end and turn.started + turn.latency > start for start, end, _ in flights)

    def replied(turn: Turn) -> bool:
        return turn.status in ("answered", "pending")

    undisturbed = [turn.latency for turn in phases["without"] if replied(turn)]
    overlapping = [turn.latency for turn in phases["with"] if replied(turn) and in_flight(turn)]
    return {
        "background_citizens": background,
        "window_s": window,
        "long_chars": len(long_text),
        "long_flights": [{"latency_ms": (end - start) * 1000, "status": status} for start, end, status in flights],
        "undisturbed": {"turns": len(undisturbed), **latency_summary(undisturbed)},
        "overlapping": {"turns": len(overlapping), **latency_summary(overlapping)},
        "added_p50_ms": head_of_line_delay(undisturbed, overlapping) if overlapping else float("nan"),
        "added_p95_ms": (percentile(overlapping, 95) - percentile(undisturbed, 95)) * 1000
        if overlapping
        else float("nan"),
        "pending_with": sum(turn.status == "pending" for turn in phases["with"]),
    }


def level_record(level: Level) -> dict[str, Any]:
    return {"summary": level.summary(), "turns": [asdict(turn) for turn in level.turns]}
