"""在线帮办: the handoff queue, claiming a conversation, live chat with the citizen, hand back to the bot.

    waiting_helper ──claim (one atomic UPDATE: exactly one helper wins)──▶ with_helper
    with_helper ──end (the owner) / "继续问智能助手" (the citizen)──▶ bot, Rasa told (docs/payloads.md)

Who owns a conversation is the open row of `helpdesk_claims`; the queue is every conversation in
`waiting_helper` with its latest `handoffs` row.  Both live in the bot service's SQLite file, so a
restart loses neither.  While a conversation waits in service hours the assistant keeps answering
(the place in the queue stays); a handoff off hours is a left message, kept for helpers.  While a
helper owns a conversation the service keeps every citizen message away from Rasa
(bot.service.ConversationService.bot_answers) and this module pushes it to the owner's console.

HTTP (JSON; every POST needs the session's X-CSRF-Token header):
  POST /api/helpdesk/login {name, password}       GET  /api/helpdesk/me       POST /api/helpdesk/logout
  POST /api/helpdesk/presence {presence}          GET  /api/helpdesk/queue
  GET  /api/helpdesk/conversations/{id}           POST /api/helpdesk/conversations/{id}/claim
  POST /api/helpdesk/conversations/{id}/messages {text, entry_id?}
  POST /api/helpdesk/conversations/{id}/end       POST /api/helpdesk/conversations/{id}/transfer {to}
  POST /api/helpdesk/conversations/{id}/drafts {question, answer}   (沉淀到知识库)
  POST /api/helpdesk/conversations/{id}/notes {text}   (private notes between helpers)
  GET  /api/helpdesk/kb?q=…                       GET  /api/helpdesk/canned
Websocket /api/helpdesk/ws
  client: {"type": "send", "conversation_id", "text", "csrf"}  {"type": "ping"}
  server: {"type": "ready", "helper"}  {"type": "queue_changed"}  {"type": "message", "conversation_id", "message"}
          {"type": "sent", "conversation_id", "seq"}  {"type": "error", "code", "message"}  {"type": "pong"}
          {"type": "note", "conversation_id", "note"}  {"type": "typing", "conversation_id", "on"}
Pages: /helpdesk/ (the console; login first) and /helpdesk/login.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bot import access, accounts, auth, texts
from bot.access import CSRF_FAILED, json_body, require, require_changing
from bot.accounts import Helper
from bot.auth import Session
from bot.config import BotConfig
from bot.conversations import Conversation, Entry, Kind, Message, OutgoingDraft, State, iso
from bot.keys import CONFIG, SERVICE, STORE
from bot.login_guard import LoginGuard, Refusal
from bot.logs import fields
from bot.responses import RefusedError, ok
from bot.service import ConversationService
from bot.service_hours import ServiceHours
from bot.shared import roles
from bot.shared.masking import mask

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
API = "/api/helpdesk"
MAX_WS_FRAME = 16 * 1024
QUEUE_LAST_MESSAGES = 3
TRANSCRIPT_LIMIT = 1000
BAD_LOGIN = RefusedError(401, "bad_login", "用户名或密码不对。 / Wrong name or password.")
LOGIN_GUARD = web.AppKey("login_guard", LoginGuard)

# Buttons of end notices sent before the five-level rating; still honoured when an old one is clicked.
RATE_GOOD_PAYLOAD = "/jsb_rate_helper_good"
RATE_BAD_PAYLOAD = "/jsb_rate_helper_bad"

# What citizens are told (plain, polite, short Chinese).
QUEUE_POSITION = (
    "您现在排在第 {position} 位。排队期间您可以接着向智能助手提问，排队位置不变；"
    "帮办人员接入后会在这里直接回复您。不想等了，点“继续问智能助手”就能取消排队。"
)
ALREADY_QUEUED = "您已经在排队了，现在排在第 {position} 位，不用重新排队。帮办人员接入后会在这里回复您。"
OFF_HOURS = (
    "现在是非工作时间，帮办人员的工作时间是{hours}。请直接在这里留言，需要回电的话可以留下联系方式（选填）；"
    "帮办人员上班后会在这里回复您。您也可以点“继续问智能助手”先问智能助手。"
)
LEFT_MESSAGE_RECEIPT = "您的留言编号是 {receipt}，查询或催办时请告诉工作人员这个编号。"
HELPER_JOINED = "帮办人员{name}已接入，正在为您服务。"
HELPER_ENDED = "帮办人员已结束本次服务，智能助手继续为您服务。请为这次帮办打个分："
HELPER_TRANSFERRED = "已为您转给帮办人员{name}，请稍候。"
RATED = "谢谢您的评价！"
NOTHING_TO_RATE = "这次帮办已经评价过了，谢谢！"


# Ready-made replies the console offers; the helper can edit before sending.
CANNED_REPLIES = (
    "您好，我是帮办人员，请问您在办理哪项业务时遇到了问题？",
    "请稍等，我帮您查一下。",
    "请问您方便提供一下办理进度页面上的提示文字吗？（请不要发送身份证号等个人信息）",
    "这个问题需要到窗口现场核实，建议您带齐材料到济阳区政务服务中心办理。",
    "还有其他问题吗？如果没有，我先把会话交还给智能助手。",
)
MAX_DRAFT_CHARS = 4000
EARLIER_LIMIT = 5  # earlier conversations of the same citizen shown beside the transcript
HOTLINE = "12345"  # 济南市民服务热线, offered beside the queue
EXPECTED_WAIT_WINDOW_S = 7 * 24 * 3600  # the expected wait comes from the last week's claims…
EXPECTED_WAIT_SAMPLE = 50  # …at most the 50 latest


@dataclass(frozen=True)
class Claim:
    id: int
    conversation_id: str
    handoff_id: int | None
    helper_id: int


class HelpDesk:
    """The service observer that feeds helper consoles, and every helper action on conversations."""

    def __init__(self, config: BotConfig, db: sqlite3.Connection, service: ConversationService) -> None:
        self.config = config
        self.db = db
        self.service = service
        self._sockets: dict[int, set[web.WebSocketResponse]] = {}  # helper id -> open consoles
        self._owners: dict[str, int] = {}  # conversation id -> helper id (mirror of the open claims)
        self._knowledge: Any = None
        self._assigning = False  # an auto-assignment round is running (it loops until nothing is left)
        self.hours = ServiceHours.parse(config.helpdesk_hours, config.helpdesk_timezone)

    def start(self) -> None:
        self._owners = {
            row[0]: row[1]
            for row in self.db.execute("SELECT conversation_id, helper_id FROM helpdesk_claims WHERE ended_at IS NULL")
        }
        if accounts.count(self.db) == 0:
            log.warning("helpdesk.no_accounts", extra=fields(hint=accounts.CREATE_HINT))
        self.service.local_payloads[RATE_GOOD_PAYLOAD] = self._rated
        self.service.local_payloads[RATE_BAD_PAYLOAD] = self._rated
        self.service.observers.append(self)
        self.service.bot_answers_while_waiting = self.bot_answers_while_waiting
        self.service.handoff_status = self.handoff_status
        self.service.citizen_typing = self.citizen_typing

    # -- observer (bot.service.ServiceObserver) ----------------------------------------------

    async def messages_stored(self, conversation: Conversation, messages: Sequence[Message]) -> None:
        owner = self._owners.get(conversation.id)
        if owner is not None:
            for message in messages:
                frame = {"type": "message", "conversation_id": conversation.id, "message": _json(message)}
                await self._push(owner, frame)
        elif conversation.state == State.WAITING_HELPER:
            await self._push_all({"type": "queue_changed"})

    async def handed_off(self, conversation: Conversation) -> None:
        if self.hours.open_at(time.time()):
            text = QUEUE_POSITION.format(position=self._position(conversation.id))
        else:
            # Off hours: the queued conversation is the ticket; the answer reaches the citizen later.
            text = OFF_HOURS.format(hours=self.hours.label())
            receipt = self.receipt(conversation.id)
            if receipt:
                text += LEFT_MESSAGE_RECEIPT.format(receipt=receipt)
        await self.service.say(conversation, [OutgoingDraft(text, Kind.NOTICE, extra={"queue": True})])
        await self._push_all({"type": "queue_changed"})
        await self._statuses_changed(conversation)
        await self.auto_assign()

    async def handoff_repeated(self, conversation: Conversation) -> None:
        """Asked for a helper again while waiting: the place in the queue stays, say which it is."""
        text = ALREADY_QUEUED.format(position=self._position(conversation.id))
        await self.service.say(conversation, [OutgoingDraft(text, Kind.NOTICE, extra={"queue": True})])
        await self._statuses_changed(conversation)

    def bot_answers_while_waiting(self, conversation: Conversation) -> bool:
        """In service hours the assistant keeps answering while the citizen waits.  A handoff made off
        hours is the leave-a-message mode the citizen was told about: their messages go to helpers."""
        row = self.db.execute(
            "SELECT created_at FROM handoffs WHERE conversation_id = ? ORDER BY id DESC LIMIT 1", (conversation.id,)
        ).fetchone()
        return self.hours.open_at(row[0] if row else time.time())

    async def handed_back(self, conversation: Conversation) -> None:
        """The citizen went back to the bot (or a helper ended): close the claim and the handoff."""
        moment = time.time()
        self.db.execute(
            "UPDATE helpdesk_claims SET ended_at = ?, ended_by = 'citizen' "
            "WHERE conversation_id = ? AND ended_at IS NULL",
            (moment, conversation.id),
        )
        self.db.execute(
            "UPDATE handoffs SET resolved_at = ? WHERE conversation_id = ? AND resolved_at IS NULL",
            (moment, conversation.id),
        )
        owner = self._owners.pop(conversation.id, None)
        if owner is not None:
            await self._push(owner, {"type": "ended", "conversation_id": conversation.id})
        await self._push_all({"type": "queue_changed"})
        await self._statuses_changed(conversation)
        await self.auto_assign()  # a helper may have room again

    # -- queue -------------------------------------------------------------------------------

    def _position(self, conversation_id: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM conversations WHERE state = 'waiting_helper' AND updated_at <= "
            "(SELECT updated_at FROM conversations WHERE id = ?)",
            (conversation_id,),
        ).fetchone()
        return max(1, int(row[0]))

    def queue(self, helper: Helper) -> dict[str, Any]:
        now = time.time()
        waiting = [
            {
                **_summary(row, now),
                "last_messages": self._last_messages(row["id"]),
                "left_off_hours": row["handoff_at"] is not None and not self.hours.open_at(row["handoff_at"]),
                "receipt": self.receipt(row["id"]),
            }
            for row in self.db.execute(
                "SELECT c.id, c.channel, c.updated_at, h.reason, h.service, h.service_title, h.step, h.summary, "
                "h.created_at AS handoff_at FROM conversations c LEFT JOIN handoffs h ON h.id = "
                "(SELECT MAX(id) FROM handoffs WHERE conversation_id = c.id) "
                "WHERE c.state = 'waiting_helper' ORDER BY c.updated_at"
            )
        ]
        mine = [
            {
                **_summary(row, now),
                "claimed_at": row["claimed_at"],
                # The first-response clock, as the analytics page counts it: from the claim to the
                # helper's first message (None while the citizen still waits for it).
                "claimed_s": round(now - row["claimed_at"]),
                "first_reply_s": None if row["first_reply"] is None else round(row["first_reply"] - row["claimed_at"]),
            }
            for row in self.db.execute(
                "SELECT c.id, c.channel, c.updated_at, h.reason, h.service, h.service_title, h.step, h.summary, "
                "k.claimed_at, (SELECT MIN(m.created_at) FROM messages m WHERE m.conversation_id = c.id "
                "AND m.direction = 'out' AND m.created_at >= k.claimed_at "
                "AND json_extract(m.extra, '$.helper') IS NOT NULL) AS first_reply "
                "FROM helpdesk_claims k JOIN conversations c ON c.id = k.conversation_id "
                "LEFT JOIN handoffs h ON h.id = k.handoff_id WHERE k.helper_id = ? AND k.ended_at IS NULL "
                "ORDER BY k.claimed_at",
                (helper.id,),
            )
        ]
        helpers = [
            {"name": row[0], "presence": row[1], "active": row[2]}
            for row in self.db.execute(
                "SELECT name, presence, (SELECT COUNT(*) FROM helpdesk_claims k WHERE k.helper_id = helpers.id "
                "AND k.ended_at IS NULL) FROM helpers WHERE disabled = 0 ORDER BY name"
            )
        ]
        return {
            "waiting": waiting,
            "mine": mine,
            "helpers": helpers,
            "max_chats": self.config.helpdesk_max_chats,
            "first_response_target": self.config.first_response_target,
            "auto_assign": self.config.helpdesk_auto_assign,
            "open_now": self.hours.open_at(now),
            "hours": self.hours.label(),
        }

    def _last_messages(self, conversation_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT direction, text FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?",
            (conversation_id, QUEUE_LAST_MESSAGES),
        ).fetchall()
        # Nobody holds a waiting conversation yet: every helper sees its last words masked.
        return [{"direction": row[0], "text": mask(row[1])[:200]} for row in reversed(rows)]

    # -- actions -----------------------------------------------------------------------------

    def owner_of(self, conversation_id: str) -> Claim | None:
        row = self.db.execute(
            "SELECT id, conversation_id, handoff_id, helper_id FROM helpdesk_claims "
            "WHERE conversation_id = ? AND ended_at IS NULL",
            (conversation_id,),
        ).fetchone()
        return Claim(*row) if row else None

    def _own(self, helper: Helper, conversation_id: str) -> Claim:
        claim = self.owner_of(conversation_id)
        if claim is None or claim.helper_id != helper.id:
            raise RefusedError(403, "not_yours", "这个会话不在您手上，不能操作。 / You do not own this conversation.")
        return claim

    async def conversation(self, helper: Helper, conversation_id: str) -> dict[str, Any]:
        conversation = await self.service.get_conversation(conversation_id)
        if conversation is None:
            raise RefusedError(404, "unknown_conversation", "没有找到这个会话。 / Unknown conversation.")
        claim = self.owner_of(conversation_id)
        mine = claim is not None and claim.helper_id == helper.id
        if not (mine or conversation.state == State.WAITING_HELPER or helper.is_admin):
            raise RefusedError(403, "not_yours", "这个会话不在您手上，不能查看。 / You do not own this conversation.")
        messages = await self.service.store.history(conversation_id, 0, TRANSCRIPT_LIMIT)
        handoff = self.db.execute(
            "SELECT reason, service, service_title, step, summary FROM handoffs WHERE conversation_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (conversation_id,),
        ).fetchone()
        return {
            **conversation.to_json(),
            "notes": self.notes(conversation_id),
            "earlier": await self.earlier_conversations(conversation),
            "mine": mine,
            "handoff": dict(zip(("reason", "service", "service_title", "step", "summary"), handoff, strict=True))
            if handoff
            else None,
            # Raw words only for the helper who holds it; a waiting citizen's numbers are masked for
            # every helper looking at the queue, and for an admin reading along.
            "messages": [_json(message) if mine else _masked(_json(message)) for message in messages],
        }

    async def claim(self, helper: Helper, conversation_id: str, *, auto: bool = False) -> None:
        """Exactly one helper wins: the state changes only WHERE it is still waiting_helper."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            current = db.execute("SELECT state FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if current is None:
                raise RefusedError(404, "unknown_conversation", "没有找到这个会话。 / Unknown conversation.")
            active = db.execute(
                "SELECT COUNT(*) FROM helpdesk_claims WHERE helper_id = ? AND ended_at IS NULL", (helper.id,)
            ).fetchone()[0]
            if active >= self.config.helpdesk_max_chats:
                raise RefusedError(
                    409,
                    "too_many",
                    f"您已同时接待 {active} 个会话，请先结束一个。 / At most {self.config.helpdesk_max_chats} at once.",
                )
            changed = db.execute(
                "UPDATE conversations SET state = 'with_helper', updated_at = ? "
                "WHERE id = ? AND state = 'waiting_helper'",
                (time.time(), conversation_id),
            ).rowcount
            if changed != 1:
                raise RefusedError(
                    409, "not_waiting", "这个会话已被接手或已取消排队。 / Already claimed or no longer waiting."
                )
            handoff = db.execute(
                "SELECT MAX(id) FROM handoffs WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO helpdesk_claims (conversation_id, handoff_id, helper_id, claimed_at) VALUES (?, ?, ?, ?)",
                (conversation_id, handoff[0], helper.id, time.time()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._owners[conversation_id] = helper.id
        log.info("helpdesk.claimed", extra=fields(conversation=conversation_id, helper=helper.id, auto=auto))
        conversation = await self.service.get_conversation(conversation_id)
        assert conversation is not None
        await self.service.say(conversation, [OutgoingDraft(HELPER_JOINED.format(name=helper.name), Kind.NOTICE)])
        await self._push_all({"type": "queue_changed"})
        await self._statuses_changed(conversation)

    def check_text(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise RefusedError(400, "empty", "消息是空的。 / The message is empty.")
        if len(text) > self.config.helpdesk_max_chars:
            limit = self.config.helpdesk_max_chars
            message = f"消息太长了（最多 {limit} 个字）。 / Too long (max {limit} characters)."
            raise RefusedError(400, "too_long", message)
        return text.strip()

    async def send(self, helper: Helper, conversation_id: str, text: Any, entry_id: Any = None) -> Message:
        """A helper's message to the citizen; with `entry_id` it is a KB entry the citizen can rate."""
        text = self.check_text(text)
        self._own(helper, conversation_id)
        entry = None
        if entry_id is not None:
            found = (await self._kb()).get(entry_id) if isinstance(entry_id, str) else None
            if found is None:
                raise RefusedError(400, "unknown_entry", "知识库里没有这个条目。 / No such KB entry.")
            entry = Entry(found.id, found.title, found.kind)
        conversation = await self.service.get_conversation(conversation_id)
        if conversation is None or conversation.state != State.WITH_HELPER:
            raise RefusedError(409, "not_with_helper", "这个会话已不在人工帮办中。 / Not with a helper any more.")
        [message] = await self.service.say(
            conversation, [OutgoingDraft(text, Kind.TEXT, entry=entry, extra={"helper": helper.name})]
        )
        return message

    async def _kb(self) -> Any:
        """The knowledge base, opened on first use (settings from the KB_* environment)."""
        if self._knowledge is None:
            from knowledge_base import KnowledgeBase  # a large import: only when helpers search

            self._knowledge = KnowledgeBase.open()
        return self._knowledge

    async def search_kb(self, query: Any) -> list[dict[str, Any]]:
        if not isinstance(query, str) or not query.strip() or len(query) > 200:
            raise RefusedError(400, "bad_query", "请输入 1-200 个字的搜索词。 / Query: 1-200 characters.")
        hits = await (await self._kb()).search(query.strip(), top_k=8)
        return [
            {"id": hit.id, "kind": hit.kind, "title": hit.title, "answer": hit.answer, "snippet": hit.snippet}
            for hit in hits
        ]

    def add_draft(self, helper: Helper, conversation_id: str, question: Any, answer: Any) -> int:
        """沉淀到知识库: store a question/answer pair from a conversation for staff review (masked)."""
        claim = self.db.execute(
            "SELECT 1 FROM helpdesk_claims WHERE conversation_id = ? AND helper_id = ? LIMIT 1",
            (conversation_id, helper.id),
        ).fetchone()
        if claim is None and not helper.is_admin:
            raise RefusedError(403, "not_yours", "只能从自己接待过的会话沉淀。 / Only from your own conversations.")
        for value in (question, answer):
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_DRAFT_CHARS:
                raise RefusedError(
                    400, "bad_draft", f"问题和回答都要填写，各不超过 {MAX_DRAFT_CHARS} 字。 / Both needed."
                )
        cursor = self.db.execute(
            "INSERT INTO kb_drafts (question, answer, conversation_id, helper_id, created_at) VALUES (?, ?, ?, ?, ?)",
            (mask(question.strip()), mask(answer.strip()), conversation_id, helper.id, time.time()),
        )
        log.info("helpdesk.kb_draft", extra=fields(conversation=conversation_id, helper=helper.id))
        return int(cursor.lastrowid or 0)

    async def end(self, helper: Helper, conversation_id: str) -> None:
        """Hand back: the claim closes (once), Rasa is told, the citizen may rate the helper."""
        claim = self._own(helper, conversation_id)
        closed = self.db.execute(
            "UPDATE helpdesk_claims SET ended_at = ?, ended_by = 'helper' WHERE id = ? AND ended_at IS NULL",
            (time.time(), claim.id),
        ).rowcount
        if closed != 1:
            raise RefusedError(409, "already_ended", "这个会话已经结束了。 / Already ended.")
        self._owners.pop(conversation_id, None)
        conversation = await self.service.get_conversation(conversation_id)
        assert conversation is not None
        service, service_title = None, None
        if claim.handoff_id is not None:
            row = self.db.execute(
                "SELECT service, service_title FROM handoffs WHERE id = ?", (claim.handoff_id,)
            ).fetchone()
            service, service_title = (row[0], row[1]) if row else (None, None)
        # Keep the service in Rasa's context so the assistant neither forgets it nor starts over.
        conversation = await self.service.hand_back(conversation, {"service_id": service} if service else None)
        # The citizen rates the helper on this notice itself (five levels, bot/ratings.py): no buttons.
        ratable = {"rate": "helper", "claim_id": claim.id, "helper": helper.name}
        ratable.update({k: v for k, v in (("service", service), ("service_title", service_title)) if v})
        await self.service.say(conversation, [OutgoingDraft(HELPER_ENDED, Kind.NOTICE, extra=ratable)])
        log.info("helpdesk.ended", extra=fields(conversation=conversation_id, helper=helper.id))
        await self.auto_assign()  # this helper has room again

    async def transfer(self, helper: Helper, conversation_id: str, to_name: Any) -> None:
        claim = self._own(helper, conversation_id)
        row = self.db.execute(
            "SELECT id, name, role, presence FROM helpers WHERE name = ? AND disabled = 0", (to_name,)
        ).fetchone()
        if row is None or row[0] == helper.id:
            raise RefusedError(400, "unknown_helper", "没有这位帮办人员。 / No such helper.")
        target = Helper(*row)
        active = self.db.execute(
            "SELECT COUNT(*) FROM helpdesk_claims WHERE helper_id = ? AND ended_at IS NULL", (target.id,)
        ).fetchone()[0]
        if active >= self.config.helpdesk_max_chats:
            raise RefusedError(409, "too_many", f"{target.name} 已满额。 / That helper is at the limit.")
        moved = self.db.execute(
            "UPDATE helpdesk_claims SET helper_id = ? WHERE id = ? AND helper_id = ? AND ended_at IS NULL",
            (target.id, claim.id, helper.id),
        ).rowcount
        if moved != 1:
            raise RefusedError(409, "not_yours", "这个会话已不在您手上。 / You no longer own this conversation.")
        self._owners[conversation_id] = target.id
        conversation = await self.service.get_conversation(conversation_id)
        assert conversation is not None
        await self.service.say(conversation, [OutgoingDraft(HELPER_TRANSFERRED.format(name=target.name), Kind.NOTICE)])
        await self._push(helper.id, {"type": "ended", "conversation_id": conversation_id})
        await self._push_all({"type": "queue_changed"})
        await self._statuses_changed(conversation)
        await self.auto_assign()  # the giving helper has room again

    # -- optional auto-assignment (HELPDESK_AUTO_ASSIGN) -----------------------------------------

    def _least_busy(self) -> Helper | None:
        """The online helper with a console open who holds the fewest conversations, below the cap;
        on a tie the one whose last claim is oldest (turns go round)."""
        cap = min(self.config.helpdesk_auto_assign_cap, self.config.helpdesk_max_chats)
        rows = self.db.execute(
            "SELECT h.id, h.name, h.role, h.presence, "
            "(SELECT COUNT(*) FROM helpdesk_claims k WHERE k.helper_id = h.id AND k.ended_at IS NULL) AS active, "
            "(SELECT MAX(claimed_at) FROM helpdesk_claims k WHERE k.helper_id = h.id) AS last "
            "FROM helpers h WHERE h.disabled = 0 AND h.presence = 'online' AND h.role IN ('helper', 'admin')"
        ).fetchall()
        # "Online" needs a console open right now: a closed browser keeps the presence it had.
        ready = [row for row in rows if self._sockets.get(row[0]) and row[4] < cap]
        if not ready:
            return None
        best = min(ready, key=lambda row: (row[4], row[5] or 0.0, row[0]))
        return Helper(best[0], best[1], best[2], best[3])

    async def auto_assign(self) -> None:
        """Give waiting conversations, oldest first, to the least busy online helpers while one has
        room.  Off unless HELPDESK_AUTO_ASSIGN; a claim is the same as a helper's own click."""
        if not self.config.helpdesk_auto_assign or self._assigning:
            return  # a running round loops until nothing is left, so this trigger is covered
        self._assigning = True
        try:
            tried: set[str] = set()
            while True:
                row = self.db.execute(
                    "SELECT id FROM conversations WHERE state = 'waiting_helper' ORDER BY updated_at, id"
                ).fetchall()
                waiting = [r[0] for r in row if r[0] not in tried]
                helper = self._least_busy() if waiting else None
                if helper is None:
                    return
                tried.add(waiting[0])
                try:
                    await self.claim(helper, waiting[0], auto=True)
                except RefusedError as refused:  # the citizen left, or a helper's own click won the race
                    log.info("helpdesk.auto_assign_skipped", extra=fields(code=refused.code))
        finally:
            self._assigning = False

    def set_presence(self, helper: Helper, presence: Any) -> None:
        if presence not in ("online", "away"):
            raise RefusedError(400, "bad_presence", "状态只能是 online 或 away。 / presence: online or away.")
        self.db.execute("UPDATE helpers SET presence = ? WHERE id = ?", (presence, helper.id))

    async def _rated(self, conversation: Conversation, message: Message) -> list[OutgoingDraft]:
        value = "good" if message.payload == RATE_GOOD_PAYLOAD else "bad"
        changed = self.db.execute(
            "UPDATE helpdesk_claims SET rating = ? WHERE id = (SELECT MAX(id) FROM helpdesk_claims "
            "WHERE conversation_id = ? AND ended_at IS NOT NULL) AND rating IS NULL",
            (value, conversation.id),
        ).rowcount
        return [OutgoingDraft(RATED if changed else NOTHING_TO_RATE, Kind.NOTICE)]

    # -- private notes, the citizen's earlier conversations, typing ---------------------------

    def notes(self, conversation_id: str) -> list[dict[str, Any]]:
        return [
            {"id": row[0], "helper": row[1], "text": row[2], "created_at": iso(row[3])}
            for row in self.db.execute(
                "SELECT n.id, h.name, n.text, n.created_at FROM helpdesk_notes n JOIN helpers h ON h.id = n.helper_id "
                "WHERE n.conversation_id = ? ORDER BY n.id",
                (conversation_id,),
            )
        ]

    async def add_note(self, helper: Helper, conversation_id: str, text: Any) -> dict[str, Any]:
        """A private note for the helpers on this conversation (masked like every store outside it)."""
        conversation = await self.service.get_conversation(conversation_id)
        claim = self.owner_of(conversation_id)
        mine = claim is not None and claim.helper_id == helper.id
        # The same rule as reading the transcript: the owner, anyone while it waits, an admin.
        if conversation is None or not (mine or conversation.state == State.WAITING_HELPER or helper.is_admin):
            raise RefusedError(403, "not_yours", "这个会话不在您手上，不能加备注。 / You do not own this conversation.")
        text = self.check_text(text)
        moment = time.time()
        cursor = self.db.execute(
            "INSERT INTO helpdesk_notes (conversation_id, helper_id, text, created_at) VALUES (?, ?, ?, ?)",
            (conversation_id, helper.id, mask(text), moment),
        )
        note = {"id": int(cursor.lastrowid or 0), "helper": helper.name, "text": mask(text), "created_at": iso(moment)}
        await self._push_all({"type": "note", "conversation_id": conversation_id, "note": note})
        return note

    async def earlier_conversations(self, conversation: Conversation) -> list[dict[str, Any]]:
        """The same citizen's earlier conversations on this channel: when, what they asked, who helped."""
        rows = self.db.execute(
            "SELECT id, created_at FROM conversations WHERE channel = ? AND external_id = ? AND id != ? "
            "AND created_at < ? ORDER BY created_at DESC LIMIT ?",
            (conversation.channel, conversation.external_id, conversation.id, conversation.created_at, EARLIER_LIMIT),
        ).fetchall()
        earlier = []
        for conversation_id, created_at in rows:
            asked = self.db.execute(
                "SELECT text FROM messages WHERE conversation_id = ? AND direction = 'in' ORDER BY seq LIMIT 3",
                (conversation_id,),
            ).fetchall()
            helpers = self.db.execute(
                "SELECT DISTINCT h.name FROM helpdesk_claims k JOIN helpers h ON h.id = k.helper_id "
                "WHERE k.conversation_id = ?",
                (conversation_id,),
            ).fetchall()
            earlier.append(
                {
                    "conversation_id": conversation_id,
                    "created_at": iso(created_at),
                    "asked": [mask(row[0][:200]) for row in asked],
                    "helpers": [row[0] for row in helpers],
                }
            )
        return earlier

    async def citizen_typing(self, conversation: Conversation, on: bool) -> None:
        owner = self._owners.get(conversation.id)
        if owner is not None:
            await self._push(owner, {"type": "typing", "conversation_id": conversation.id, "on": on})

    # -- the citizen's live handoff status (the widget's queue card) -------------------------

    def expected_wait(self, now: float | None = None) -> int | None:
        """Seconds a citizen waited before a helper joined: the median of recent claims, or None."""
        now = time.time() if now is None else now
        waits = sorted(
            row[0]
            for row in self.db.execute(
                "SELECT k.claimed_at - h.created_at FROM helpdesk_claims k JOIN handoffs h ON h.id = k.handoff_id "
                "WHERE h.created_at >= ? ORDER BY k.claimed_at DESC LIMIT ?",
                (now - EXPECTED_WAIT_WINDOW_S, EXPECTED_WAIT_SAMPLE),
            )
            if row[0] is not None and row[0] >= 0
        )
        if not waits:
            return None
        middle = len(waits) // 2
        median = waits[middle] if len(waits) % 2 else (waits[middle - 1] + waits[middle]) / 2
        return round(median)

    def receipt(self, conversation_id: str) -> str | None:
        """The 留言编号 of the latest handoff: its day (in the desk's time zone) and its row id."""
        row = self.db.execute(
            "SELECT id, created_at FROM handoffs WHERE conversation_id = ? ORDER BY id DESC LIMIT 1",
            (conversation_id,),
        ).fetchone()
        if row is None:
            return None
        day = datetime.fromtimestamp(row[1], self.hours.zone)
        return f"JY{day:%Y%m%d}-{row[0]:04d}"

    def handoff_status(self, conversation: Conversation) -> dict[str, Any] | None:
        """What the citizen's channel shows live: place in the queue and expected wait, or the helper."""
        now = time.time()
        status: dict[str, Any] = {"state": conversation.state.value, "hours": self.hours.label(), "hotline": HOTLINE}
        if conversation.state == State.WAITING_HELPER:
            row = self.db.execute("SELECT updated_at FROM conversations WHERE id = ?", (conversation.id,)).fetchone()
            waited = now - row[0] if row else 0
            expected = self.expected_wait(now)
            status.update(
                position=self._position(conversation.id),
                waited_s=round(waited),
                expected_wait_s=None if expected is None else max(60, round(expected - waited)),
                off_hours=not self.bot_answers_while_waiting(conversation),
                receipt=self.receipt(conversation.id),
            )
        elif conversation.state == State.WITH_HELPER:
            owner = self._owners.get(conversation.id)
            row = self.db.execute("SELECT name FROM helpers WHERE id = ?", (owner,)).fetchone() if owner else None
            status["helper"] = row[0] if row else None
        return status

    async def _statuses_changed(self, changed: Conversation) -> None:
        """One conversation moved: it and everyone still waiting (their places moved) get a fresh status."""
        fresh = await self.service.get_conversation(changed.id) or changed
        targets = {fresh.id: fresh}
        for (conversation_id,) in self.db.execute("SELECT id FROM conversations WHERE state = 'waiting_helper'"):
            if conversation_id not in targets:
                waiting = await self.service.get_conversation(conversation_id)
                if waiting is not None:
                    targets[conversation_id] = waiting
        for conversation in targets.values():
            status = self.handoff_status(conversation)
            if status is not None:
                await self.service.channels.status(conversation, status)

    # -- consoles ----------------------------------------------------------------------------

    async def _push(self, helper_id: int, frame: dict[str, Any]) -> None:
        data = json.dumps(frame, ensure_ascii=False)
        for ws in list(self._sockets.get(helper_id, ())):
            try:
                await ws.send_str(data)
            except (ConnectionError, RuntimeError):
                self._sockets[helper_id].discard(ws)

    async def _push_all(self, frame: dict[str, Any]) -> None:
        for helper_id in list(self._sockets):
            await self._push(helper_id, frame)

    def attach(self, helper_id: int, ws: web.WebSocketResponse) -> None:
        self._sockets.setdefault(helper_id, set()).add(ws)

    def detach(self, helper_id: int, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(helper_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[helper_id]

    async def close_all(self) -> None:
        if self._knowledge is not None:
            await self._knowledge.close()
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutting down")


HELPDESK = web.AppKey("helpdesk", HelpDesk)


# -- 沉淀到知识库 drafts, as the staff worklists read and settle them (bot/worklists.py) ------------


def open_drafts(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Helper drafts no worklist outcome has closed yet, newest first (at most 1000)."""
    rows = db.execute(
        "SELECT d.id, d.question, d.answer, d.conversation_id, d.created_at, h.name AS helper "
        "FROM kb_drafts d LEFT JOIN helpers h ON h.id = d.helper_id "
        "WHERE d.status = 'draft' AND NOT EXISTS (SELECT 1 FROM worklist_outcomes o "
        "WHERE o.item_kind = 'draft' AND o.item_id = d.id) ORDER BY d.id DESC LIMIT 1000"
    )
    names = [column[0] for column in rows.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def existing_drafts(db: sqlite3.Connection, ids: list[int]) -> set[int]:
    marks = ",".join("?" * len(ids))
    return {row[0] for row in db.execute(f"SELECT id FROM kb_drafts WHERE id IN ({marks})", ids)}


def settle_drafts(db: sqlite3.Connection, ids: list[int], status: str) -> None:
    """Drafts accepted or rejected by staff (inside the caller's transaction)."""
    marks = ",".join("?" * len(ids))
    db.execute(f"UPDATE kb_drafts SET status = ? WHERE id IN ({marks})", (status, *ids))


def _json(message: Message) -> dict[str, Any]:
    data = message.to_json()
    data["helper"] = message.extra.get("helper")
    return data


def _summary(row: sqlite3.Row, now: float) -> dict[str, Any]:
    return {
        "conversation_id": row["id"],
        "channel": row["channel"],
        "reason": row["reason"],
        "service": row["service"],
        "service_title": row["service_title"],
        "step": row["step"],
        "summary": row["summary"],
        "waiting_s": round(now - row["updated_at"]),
    }


# -- HTTP --------------------------------------------------------------------------------------

routes = web.RouteTableDef()


def _session(request: web.Request) -> Session:
    return require(request, roles.HELPDESK)


def _changing(request: web.Request) -> Session:
    """A state-changing request: a live helpdesk session and its CSRF token."""
    return require_changing(request, roles.HELPDESK)


def _me(session: Session) -> dict[str, Any]:
    return {"name": session.helper.name, "role": session.helper.role, "csrf": session.csrf}


@routes.post(f"{API}/login")
async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    name, password = body.get("name"), body.get("password")
    db = request.app[STORE].db
    if not isinstance(name, str) or not isinstance(password, str):
        raise BAD_LOGIN
    # Throttled, audited, and the argon2 check off the event loop (bot/login_guard.py).
    result = await request.app[LOGIN_GUARD].login(name, password, request.remote or "unknown")
    if isinstance(result, Refusal):
        log.info("helpdesk.login_refused", extra=fields(outcome=result.outcome))
        if result.outcome == "bad":
            raise BAD_LOGIN
        message = (texts.LOGIN_LOCKED if result.outcome == "locked" else texts.LOGIN_BUSY).format(
            seconds=result.retry_after
        )
        raise RefusedError(429, "login_" + result.outcome, message, headers={"Retry-After": str(result.retry_after)})
    helper = result
    token, session = auth.open_session(db, helper, request.app[CONFIG].helpdesk_session_hours)
    db.execute("UPDATE helpers SET presence = 'online' WHERE id = ?", (helper.id,))
    response = ok(_me(session))
    auth.set_cookie(response, request, request.app[CONFIG], token)
    log.info("helpdesk.login", extra=fields(helper=helper.id))
    return response


@routes.post(f"{API}/logout")
async def logout(request: web.Request) -> web.Response:
    session = require_changing(request, roles.STAFF)  # the login is shared by every staff console
    db = request.app[STORE].db
    auth.close_session(db, session)
    db.execute("UPDATE helpers SET presence = 'away' WHERE id = ?", (session.helper.id,))
    response = ok({"ok": True})
    auth.clear_cookie(response)
    return response


@routes.get(f"{API}/me")
async def me(request: web.Request) -> web.Response:
    return ok(_me(require(request, roles.STAFF)))


@routes.post(f"{API}/presence")
async def presence(request: web.Request) -> web.Response:
    session = _changing(request)
    body = await json_body(request)
    request.app[HELPDESK].set_presence(session.helper, body.get("presence"))
    await request.app[HELPDESK]._push_all({"type": "queue_changed"})
    await request.app[HELPDESK].auto_assign()
    return ok({"presence": body["presence"]})


@routes.get(f"{API}/queue")
async def queue(request: web.Request) -> web.Response:
    return ok(request.app[HELPDESK].queue(_session(request).helper))


@routes.get(API + "/conversations/{conversation_id}")
async def conversation(request: web.Request) -> web.Response:
    helper = _session(request).helper
    return ok(await request.app[HELPDESK].conversation(helper, request.match_info["conversation_id"]))


@routes.post(API + "/conversations/{conversation_id}/claim")
async def claim(request: web.Request) -> web.Response:
    helper = _changing(request).helper
    await request.app[HELPDESK].claim(helper, request.match_info["conversation_id"])
    return ok({"claimed": True})


@routes.post(API + "/conversations/{conversation_id}/messages")
async def send(request: web.Request) -> web.Response:
    helper = _changing(request).helper
    body = await json_body(request)
    desk = request.app[HELPDESK]
    message = await desk.send(helper, request.match_info["conversation_id"], body.get("text"), body.get("entry_id"))
    return ok({"message": _json(message)})


@routes.post(API + "/conversations/{conversation_id}/drafts")
async def add_draft(request: web.Request) -> web.Response:
    helper = _changing(request).helper
    body = await json_body(request)
    draft = request.app[HELPDESK].add_draft(
        helper, request.match_info["conversation_id"], body.get("question"), body.get("answer")
    )
    return ok({"draft_id": draft})


@routes.post(API + "/conversations/{conversation_id}/notes")
async def add_note(request: web.Request) -> web.Response:
    helper = _changing(request).helper
    body = await json_body(request)
    note = await request.app[HELPDESK].add_note(helper, request.match_info["conversation_id"], body.get("text"))
    return ok({"note": note})


@routes.get(f"{API}/kb")
async def search_kb(request: web.Request) -> web.Response:
    _session(request)
    return ok({"hits": await request.app[HELPDESK].search_kb(request.query.get("q"))})


@routes.get(f"{API}/canned")
async def canned(request: web.Request) -> web.Response:
    _session(request)
    return ok({"replies": list(CANNED_REPLIES)})


@routes.post(API + "/conversations/{conversation_id}/end")
async def end(request: web.Request) -> web.Response:
    helper = _changing(request).helper
    await request.app[HELPDESK].end(helper, request.match_info["conversation_id"])
    return ok({"ended": True})


@routes.post(API + "/conversations/{conversation_id}/transfer")
async def transfer(request: web.Request) -> web.Response:
    helper = _changing(request).helper
    body = await json_body(request)
    await request.app[HELPDESK].transfer(helper, request.match_info["conversation_id"], body.get("to"))
    return ok({"transferred": True})


@routes.get(f"{API}/ws")
async def console_socket(request: web.Request) -> web.WebSocketResponse:
    session = _session(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise RefusedError(403, "origin", "不允许从其他网站连接。 / Cross-site connection refused.")
    desk = request.app[HELPDESK]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_WS_FRAME)
    await ws.prepare(request)
    helper_id = session.helper.id
    desk.attach(helper_id, ws)
    token = request.cookies.get(auth.COOKIE)
    try:
        await ws.send_json({"type": "ready", "helper": session.helper.name})
        await desk.auto_assign()  # a helper who just came online may take waiting conversations
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                break
            # Every frame re-checks the session: a logout or expiry ends what this socket may do.
            live = auth.find_session(request.app[STORE].db, token)
            if live is None:
                await ws.close(code=4401, message=b"session expired")
                break
            await _console_frame(desk, ws, live, frame.data)
    finally:
        desk.detach(helper_id, ws)
    return ws


async def _console_frame(desk: HelpDesk, ws: web.WebSocketResponse, session: Session, data: str) -> None:
    try:
        frame = json.loads(data)
    except ValueError:
        frame = None
    if not isinstance(frame, dict):
        await ws.send_json({"type": "error", "code": "bad_json", "message": "无法识别的消息。 / Not JSON."})
        return
    if frame.get("type") == "ping":
        await ws.send_json({"type": "pong"})
        return
    if frame.get("type") != "send":
        await ws.send_json({"type": "error", "code": "unknown_type", "message": "无法识别的消息类型。 / Unknown type."})
        return
    conversation_id = frame.get("conversation_id")
    try:
        if not auth.csrf_ok(session, frame.get("csrf")):
            raise CSRF_FAILED
        message = await desk.send(session.helper, str(conversation_id), frame.get("text"))
    except RefusedError as refused:
        await ws.send_json(
            {"type": "error", "code": refused.code, "message": refused.message, "conversation_id": conversation_id}
        )
        return
    await ws.send_json({"type": "sent", "conversation_id": conversation_id, "seq": message.seq})


@routes.get("/helpdesk/login")
async def login_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(CONSOLE_DIR / "login.html", headers={"Cache-Control": "no-cache"})


@routes.get("/helpdesk/")
async def console_page(request: web.Request) -> web.StreamResponse:
    session = access.current_session(request)
    if session is None:
        raise web.HTTPFound("/helpdesk/login")
    if session.helper.role not in roles.HELPDESK:  # an editor or reviewer: their console is the KB one
        raise web.HTTPFound("/kb/")
    return web.FileResponse(CONSOLE_DIR / "console.html", headers={"Cache-Control": "no-store"})


async def _to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/helpdesk/")


async def _desk_ctx(app: web.Application) -> Any:
    config = app[CONFIG]
    desk = HelpDesk(config, app[STORE].db, app[SERVICE])
    desk.start()
    app[HELPDESK] = desk
    guard = LoginGuard(
        app[STORE].db, config.helpdesk_login_tries, config.helpdesk_login_address_tries, config.helpdesk_login_lockout
    )
    app[LOGIN_GUARD] = guard
    yield
    guard.close()
    await desk.close_all()


def setup(app: web.Application) -> None:
    """Register the console pages, API and websocket (after the store and service contexts)."""
    app.cleanup_ctx.append(_desk_ctx)
    app.add_routes(routes)
    app.router.add_get("/helpdesk", _to_console)
    app.router.add_static("/helpdesk/static/", CONSOLE_DIR, name="helpdesk-static", append_version=False)


def _masked(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "text": mask(message["text"])} if isinstance(message.get("text"), str) else message
