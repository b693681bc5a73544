"""在线帮办 over HTTP and the console websocket, against the real bot service and SQLite.

Rasa is not needed here (a port where nothing listens): conversations are put in the queue the way
the service does after a `handoff` payload, and everything a helper does must work without Rasa.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import aiohttp
import pytest
from desk_helpers import API, PASSWORD, REPO_ROOT, add_helper, nobody_listening, rest_app, waiting_conversation

from bot import helpdesk
from bot.conversations import State, Status

CID = "0" * 32  # a well-formed conversation id that does not exist


@pytest.fixture
async def bot(start_desk_bot):
    bot = await start_desk_bot(rasa_url=nobody_listening(), helpdesk_max_chars=50, helpdesk_max_chats=2)
    add_helper(bot, "alice")
    add_helper(bot, "bob")
    add_helper(bot, "admin1", "admin")
    return bot


async def state_of(bot, conversation_id: str) -> State:
    return (await bot.store.get_conversation(conversation_id)).state


async def claims(bot) -> list[dict]:
    return await bot.store.rows("SELECT * FROM helpdesk_claims ORDER BY id")


async def outgoing_texts(bot, conversation_id: str) -> list[str]:
    rows = await bot.store.rows(
        "SELECT text FROM messages WHERE conversation_id = ? AND direction = 'out' ORDER BY seq", conversation_id
    )
    return [row["text"] for row in rows]


# -- accounts ----------------------------------------------------------------------------------


def test_accounts_cli_creates_with_a_password_from_stdin_and_refuses_weak_or_duplicate(tmp_path):
    db = tmp_path / "bot.sqlite3"

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot.accounts", "--db", str(db), *args]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)

    assert run("create", "zhang", "--role", "admin", stdin="short\n").returncode == 1
    created = run("create", "zhang", "--role", "admin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    again = run("create", "zhang", "--role", "helper", stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "exists" in again.stderr
    assert run("create", "li", "--role", "boss", stdin=PASSWORD + "\n").returncode == 2  # argparse: bad role
    listed = run("list")
    assert listed.stdout.split() == ["zhang", "admin"]
    import sqlite3

    stored = sqlite3.connect(db).execute("SELECT password_hash FROM helpers").fetchone()[0]
    assert stored.startswith("$argon2") and PASSWORD not in stored


async def test_the_service_says_how_to_create_the_first_account(start_desk_bot, caplog):
    with caplog.at_level("WARNING", logger="bot.helpdesk"):
        await start_desk_bot(rasa_url=nobody_listening())
    assert any("python -m bot.accounts create" in str(getattr(r, "fields", "")) for r in caplog.records)


async def test_login_sets_a_strict_httponly_cookie_and_wrong_passwords_are_refused(bot, anonymous):
    async with anonymous.post(bot.url + API + "/login", json={"name": "alice", "password": "wrong password!"}) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "bad_login"
    async with anonymous.post(bot.url + API + "/login", json={"name": "nobody", "password": PASSWORD}) as r:
        assert r.status == 401
    async with anonymous.post(bot.url + API + "/login", data="name=alice") as r:
        assert r.status == 415  # a form post from another site cannot log anyone in
    async with anonymous.post(bot.url + API + "/login", json={"name": "alice", "password": PASSWORD}) as r:
        assert r.status == 200
        cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain http here
    stored = await bot.store.rows("SELECT token_hash FROM helper_sessions")
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(stored) == 1 and token not in stored[0]["token_hash"]


async def test_cookie_is_secure_behind_https(bot, anonymous):
    headers = {"X-Forwarded-Proto": "https"}
    async with anonymous.post(
        bot.url + API + "/login", json={"name": "alice", "password": PASSWORD}, headers=headers
    ) as r:
        assert "Secure" in r.headers["Set-Cookie"]


# -- anonymous, forged, expired, CSRF ------------------------------------------------------------

GETS = ["/me", "/queue", f"/conversations/{CID}"]
POSTS = ["/logout", "/presence", f"/conversations/{CID}/claim", f"/conversations/{CID}/messages",
         f"/conversations/{CID}/end", f"/conversations/{CID}/transfer"]  # fmt: skip


async def refused_everywhere(bot, session: aiohttp.ClientSession, cookie: str | None = None) -> None:
    cookies = {"Cookie": f"jsb_helper={cookie}"} if cookie else {}
    for path in GETS:
        async with session.get(bot.url + API + path, headers=cookies) as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "login_required", path
    for path in POSTS:
        async with session.post(bot.url + API + path, json={"text": "hi"}, headers=cookies) as r:
            assert r.status == 401, path
    async with session.get(bot.url + "/helpdesk/", headers=cookies, allow_redirects=False) as r:
        assert r.status == 302 and r.headers["Location"] == "/helpdesk/login"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(bot.url.replace("http", "ws") + API + "/ws", headers=cookies)
    assert refused.value.status == 401


async def test_anonymous_access_to_every_helper_page_api_and_socket_is_denied(bot, anonymous):
    await refused_everywhere(bot, anonymous)
    async with anonymous.get(bot.url + "/helpdesk/login") as r:
        assert r.status == 200  # only the login page is public


async def test_forged_and_expired_sessions_are_refused(bot, anonymous, helpers):
    await refused_everywhere(bot, anonymous, "forged-session-value-123456")
    alice = await helpers(bot, "alice")
    token = next(c.value for c in alice.http.cookie_jar if c.key == "jsb_helper")
    assert (await alice.get("/me"))[0] == 200
    await bot.store.rows("UPDATE helper_sessions SET expires_at = ? RETURNING token_hash", time.time() - 1)
    await refused_everywhere(bot, anonymous, token)
    assert await bot.store.rows("SELECT * FROM helper_sessions") == []  # the expired one is gone


async def test_missing_or_wrong_csrf_changes_nothing(bot, helpers):
    conversation_id = await waiting_conversation(bot)
    alice = await helpers(bot, "alice")
    for csrf in (None, "wrong-token"):
        status, body = await alice.post(f"/conversations/{conversation_id}/claim", csrf=csrf)
        assert status == 403 and body["error"]["code"] == "csrf"
    assert await state_of(bot, conversation_id) == State.WAITING_HELPER and await claims(bot) == []
    status, _ = await alice.post(f"/conversations/{conversation_id}/claim")
    assert status == 200
    before = await outgoing_texts(bot, conversation_id)
    status, _ = await alice.post(f"/conversations/{conversation_id}/messages", {"text": "您好"}, csrf=None)
    assert status == 403
    # The websocket wants the token in every frame too.
    console = await alice.socket()
    await console.ws.send_json({"type": "send", "conversation_id": conversation_id, "text": "您好"})
    assert (await console.next("error"))["code"] == "csrf"
    assert await outgoing_texts(bot, conversation_id) == before


async def test_logout_ends_the_session_and_its_socket(bot, helpers):
    alice = await helpers(bot, "alice")
    console = await alice.socket()
    assert (await alice.post("/logout"))[0] == 200
    assert (await alice.get("/me"))[0] == 401
    await console.ws.send_json({"type": "ping"})
    assert (await console.next("pong"))["type"] == "_closed"


# -- queue and claim -------------------------------------------------------------------------------


async def test_queue_shows_the_summary_and_claiming_is_exclusive(bot, helpers):
    conversation_id = await waiting_conversation(bot)
    alice, bob = await helpers(bot, "alice"), await helpers(bot, "bob")
    status, queue = await alice.get("/queue")
    assert status == 200
    [item] = queue["waiting"]
    assert item["conversation_id"] == conversation_id and item["channel"] == "rest"
    assert item["reason"] == "request_human" and item["service_title"] == "个体工商户设立登记"
    assert item["last_messages"][-1] == {"direction": "in", "text": "转人工"} and item["waiting_s"] >= 0
    assert {h["name"]: h["presence"] for h in queue["helpers"]} == {
        "admin1": "away",
        "alice": "online",
        "bob": "online",
    }

    # Two helpers click at the same moment: exactly one wins.
    results = await asyncio.gather(
        alice.post(f"/conversations/{conversation_id}/claim"), bob.post(f"/conversations/{conversation_id}/claim")
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409]
    loser_body = next(body for status, body in results if status == 409)
    assert loser_body["error"]["code"] == "not_waiting"
    [claim] = await claims(bot)
    assert await state_of(bot, conversation_id) == State.WITH_HELPER
    winner, loser = (alice, bob) if claim["helper_id"] == 1 else (bob, alice)

    # A replayed claim is refused, and the queue and the owner's list say who has it.
    status, body = await winner.post(f"/conversations/{conversation_id}/claim")
    assert status == 409 and body["error"]["code"] == "not_waiting"
    assert len(await claims(bot)) == 1
    assert (await winner.get("/queue"))[1]["mine"][0]["conversation_id"] == conversation_id
    assert (await loser.get("/queue"))[1] == {**(await loser.get("/queue"))[1], "waiting": [], "mine": []}

    # The loser may neither read, write, end nor transfer it.
    assert (await loser.get(f"/conversations/{conversation_id}"))[0] == 403
    before = await outgoing_texts(bot, conversation_id)
    for path, body in (("messages", {"text": "我来"}), ("end", {}), ("transfer", {"to": loser.name})):
        status, answer = await loser.post(f"/conversations/{conversation_id}/{path}", body)
        assert status == 403 and answer["error"]["code"] == "not_yours", path
    assert await outgoing_texts(bot, conversation_id) == before
    assert await state_of(bot, conversation_id) == State.WITH_HELPER


async def test_many_simultaneous_claims_on_many_conversations(bot, helpers):
    ids = [await waiting_conversation(bot, external_id=f"user-{n}") for n in range(4)]
    alice, bob = await helpers(bot, "alice"), await helpers(bot, "bob")
    calls = [client.post(f"/conversations/{cid}/claim") for cid in ids for client in (alice, bob)]
    results = await asyncio.gather(*calls)
    assert sum(status == 200 for status, _ in results) == 4  # max 2 each, one winner per conversation
    rows = await claims(bot)
    assert sorted(row["conversation_id"] for row in rows) == sorted(ids)
    assert sorted(row["helper_id"] for row in rows) == [1, 1, 2, 2]


async def test_a_cap_on_concurrent_conversations(bot, helpers):
    ids = [await waiting_conversation(bot, external_id=f"user-{n}") for n in range(3)]
    alice = await helpers(bot, "alice")
    assert [(await alice.post(f"/conversations/{cid}/claim"))[0] for cid in ids] == [200, 200, 409]
    assert await state_of(bot, ids[2]) == State.WAITING_HELPER


# -- live chat and hand back ---------------------------------------------------------------------


async def test_chat_both_ways_over_rest_then_hand_back_and_rating(bot, helpers, anonymous):
    portal, citizen = rest_app(bot)
    conversation_id = await waiting_conversation(bot, external_id=citizen)
    alice = await helpers(bot, "alice")
    console = await alice.socket()
    assert (await alice.post(f"/conversations/{conversation_id}/claim"))[0] == 200
    assert helpdesk.HELPER_JOINED.format(name="alice") in await outgoing_texts(bot, conversation_id)

    # The citizen (REST channel) writes: stored for the helper, pushed to her console, never sent to Rasa.
    body = {"user_id": "app-user-1", "conversation_id": conversation_id, "text": "我的申请被退回了"}
    async with anonymous.post(bot.url + "/api/v1/messages", json=body, headers=portal) as r:
        result = await r.json()
    assert result["status"] == "for_helper" and result["replies"] == []
    pushed = await console.message_in(conversation_id, "我的申请被退回了")
    assert pushed["direction"] == "in"
    assert (await bot.store.get_message(pushed["seq"])).status == Status.FOR_HELPER

    # The helper answers over the websocket; the citizen finds it in the REST history.
    await console.ws.send_json(
        {"type": "send", "conversation_id": conversation_id, "text": "请补充营业场所证明", "csrf": alice.csrf}
    )
    sent = await console.next("sent")
    echoed = await console.message_in(conversation_id, "请补充营业场所证明")
    assert echoed["seq"] == sent["seq"] and echoed["helper"] == "alice"
    url = f"{bot.url}/api/v1/conversations/{conversation_id}/messages?user_id=app-user-1"
    async with anonymous.get(url, headers=portal) as r:
        history = (await r.json())["messages"]
    assert "请补充营业场所证明" in [m["text"] for m in history]

    # Oversized or empty helper messages are refused; nothing is stored.
    before = await outgoing_texts(bot, conversation_id)
    for text, code in (("", "empty"), ("   ", "empty"), ("长" * 51, "too_long"), (None, "empty")):
        status, answer = await alice.post(f"/conversations/{conversation_id}/messages", {"text": text})
        assert status == 400 and answer["error"]["code"] == code
    await console.ws.send_json(
        {"type": "send", "conversation_id": conversation_id, "text": "长" * 51, "csrf": alice.csrf}
    )
    assert (await console.next("error"))["code"] == "too_long"
    assert await outgoing_texts(bot, conversation_id) == before

    # The whole transcript (bot turns included) for the owner.
    status, transcript = await alice.get(f"/conversations/{conversation_id}")
    assert status == 200 and transcript["mine"] and transcript["handoff"]["service"]
    assert [m["text"] for m in transcript["messages"]][:2] == ["转人工", helpdesk.HELPER_JOINED.format(name="alice")]

    # End: back to the bot (Rasa is down here: the state still changes, the citizen is asked to rate).
    assert (await alice.post(f"/conversations/{conversation_id}/end"))[0] == 200
    assert await state_of(bot, conversation_id) == State.BOT
    assert (await alice.post(f"/conversations/{conversation_id}/end"))[0] == 403  # replayed end
    [ending] = [m for m in await bot.store.history(conversation_id) if m.text == helpdesk.HELPER_ENDED]
    # The end notice itself is rated (five levels, bot/ratings.py): no buttons, no "好评" message.
    assert ending.buttons == () and ending.to_json()["rate"] == "helper"
    url = f"{bot.url}/api/v1/conversations/{conversation_id}/ratings"
    body = {"user_id": "app-user-1", "seq": ending.seq, "value": 2, "reason": "slow"}
    async with anonymous.post(url, json=body, headers=portal) as r:
        result = await r.json()
    assert result["status"] == "answered" and result["replies"] == [] and result["message"]["rating"] == "2"
    [claim] = await claims(bot)
    assert claim["rating"] == "bad" and claim["ended_by"] == "helper"
    [rating] = await bot.store.rows("SELECT target, helper, claim_id, level, reason, due_at FROM ratings")
    assert (rating["target"], rating["helper"], rating["claim_id"]) == ("helper", "alice", claim["id"])
    assert (rating["level"], rating["reason"]) == (2, "slow") and rating["due_at"]
    # Changing one's mind updates the same rating (and the claim).
    async with anonymous.post(url, json={**body, "value": 5, "reason": None}, headers=portal) as r:
        assert (await r.json())["message"]["rating"] == "5"
    assert (await claims(bot))[0]["rating"] == "good"
    assert len(await bot.store.rows("SELECT id FROM ratings")) == 1


async def test_transfer_to_another_helper(bot, helpers):
    conversation_id = await waiting_conversation(bot)
    alice, bob = await helpers(bot, "alice"), await helpers(bot, "bob")
    bob_console = await bob.socket()
    await alice.post(f"/conversations/{conversation_id}/claim")
    status, _ = await alice.post(f"/conversations/{conversation_id}/transfer", {"to": "nobody"})
    assert status == 400
    assert (await alice.post(f"/conversations/{conversation_id}/transfer", {"to": "bob"}))[0] == 200
    assert (await alice.post(f"/conversations/{conversation_id}/messages", {"text": "还在吗"}))[0] == 403
    assert (await bob.post(f"/conversations/{conversation_id}/messages", {"text": "我是bob"}))[0] == 200
    assert (await bob_console.message_in(conversation_id, "我是bob"))["helper"] == "bob"


async def test_the_citizen_going_back_to_the_bot_ends_the_claim(bot, helpers, anonymous):
    from bot import texts

    portal, citizen = rest_app(bot)
    conversation_id = await waiting_conversation(bot, external_id=citizen)
    alice = await helpers(bot, "alice")
    console = await alice.socket()
    await alice.post(f"/conversations/{conversation_id}/claim")
    body = {"user_id": "app-user-1", "conversation_id": conversation_id, "text": texts.BACK_TO_BOT_BUTTON,
            "payload": texts.BACK_TO_BOT_PAYLOAD}  # fmt: skip
    async with anonymous.post(bot.url + "/api/v1/messages", json=body, headers=portal) as r:
        assert r.status == 200
    assert (await console.next("ended"))["conversation_id"] == conversation_id
    [claim] = await claims(bot)
    assert claim["ended_by"] == "citizen"
    assert (await alice.post(f"/conversations/{conversation_id}/messages", {"text": "您好"}))[0] == 403


# -- restart ---------------------------------------------------------------------------------------


async def test_queue_ownership_transcript_and_sessions_survive_a_restart(start_desk_bot, helpers, tmp_path):
    settings = {"rasa_url": nobody_listening(), "db_path": tmp_path / "desk.sqlite3"}
    bot = await start_desk_bot(**settings)
    add_helper(bot, "alice")
    owned = await waiting_conversation(bot, external_id="user-owned")
    queued = await waiting_conversation(bot, external_id="user-queued")
    alice = await helpers(bot, "alice")
    await alice.post(f"/conversations/{owned}/claim")
    await alice.post(f"/conversations/{owned}/messages", {"text": "材料已收到"})
    before_queue = (await alice.get("/queue"))[1]
    before_transcript = (await alice.get(f"/conversations/{owned}"))[1]

    await bot.stop()
    again = await start_desk_bot(**settings)
    alice.bot = again  # the same cookie jar: the session was stored server-side
    status, after_queue = await alice.get("/queue")
    assert status == 200
    assert [i["conversation_id"] for i in after_queue["waiting"]] == [queued]
    assert [i["conversation_id"] for i in after_queue["mine"]] == [owned]
    assert [i["conversation_id"] for i in before_queue["mine"]] == [owned]
    assert (await alice.get(f"/conversations/{owned}"))[1]["messages"] == before_transcript["messages"]
    # Ownership still holds after the restart: citizen messages go to alice's console, not to Rasa.
    console = await alice.socket()
    conversation = await again.store.get_conversation(owned)
    receipt = await again.service.receive(conversation, "重启后还在吗")
    assert (await console.message_in(owned, "重启后还在吗"))["seq"] == receipt.message.seq
    assert (await again.store.get_message(receipt.message.seq)).status == Status.FOR_HELPER


# -- knowledge base, canned replies, drafts ----------------------------------------------------


async def test_search_the_kb_and_send_an_entry_as_the_answer(bot, helpers, monkeypatch, loaded_db):
    monkeypatch.setenv("KB_DB", str(loaded_db))
    conversation_id = await waiting_conversation(bot)
    alice = await helpers(bot, "alice")
    await alice.post(f"/conversations/{conversation_id}/claim")
    status, found = await alice.get("/kb?q=个体工商户设立登记")
    assert status == 200
    hit = next(h for h in found["hits"] if h["id"] == "guide.individual-business-registration")
    assert hit["title"] and hit["answer"]
    assert (await alice.get("/kb?q="))[0] == 400
    status, sent = await alice.post(
        f"/conversations/{conversation_id}/messages", {"text": hit["answer"][:50], "entry_id": hit["id"]}
    )
    assert status == 200 and sent["message"]["entry"]["id"] == hit["id"]
    status, _ = await alice.post(f"/conversations/{conversation_id}/messages", {"text": "x", "entry_id": "no.such"})
    assert status == 400


async def test_canned_replies_need_a_session(bot, helpers, anonymous):
    async with anonymous.get(bot.url + API + "/canned") as r:
        assert r.status == 401
    alice = await helpers(bot, "alice")
    status, body = await alice.get("/canned")
    assert status == 200 and helpdesk.CANNED_REPLIES[0] in body["replies"]


async def test_a_helper_turns_an_answer_into_a_kb_draft(bot, helpers):
    conversation_id = await waiting_conversation(bot)
    alice, bob = await helpers(bot, "alice"), await helpers(bot, "bob")
    await alice.post(f"/conversations/{conversation_id}/claim")
    draft = {"question": "营业场所证明缺了怎么办？联系电话13812345678", "answer": "可以用租赁合同代替。"}
    assert (await bob.post(f"/conversations/{conversation_id}/drafts", draft))[0] == 403
    assert (await alice.post(f"/conversations/{conversation_id}/drafts", {"question": "", "answer": "x"}))[0] == 400
    assert (await alice.post(f"/conversations/{conversation_id}/drafts", draft, csrf=None))[0] == 403
    status, body = await alice.post(f"/conversations/{conversation_id}/drafts", draft)
    assert status == 200
    [row] = await bot.store.rows("SELECT * FROM kb_drafts")
    assert row["id"] == body["draft_id"] and row["conversation_id"] == conversation_id and row["status"] == "draft"
    assert "13812345678" not in row["question"] and row["answer"] == "可以用租赁合同代替。"  # masked for review
