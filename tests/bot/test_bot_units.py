"""The bot service's parts on their own: masking, settings, state machine, payloads, the SQLite store."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from bot.config import BotConfig, ConfigError
from bot.conversations import Button, Entry, Kind, OutgoingDraft, State, Status, TransitionError, check_transition
from bot.logs import JsonFormatter
from bot.payloads import interpret, rating_payload
from bot.shared.masking import MaskingFilter, mask, mask_value
from bot.store import Store

# -- masking -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("我的身份证号是370125199001011234。", "我的身份证号是3701**********1234。"),
        ("身份证37012519900101123X", "身份证3701**********123X"),
        ("电话13812345678", "电话138****5678"),
        ("手机 +86 138-1234-5678 谢谢", "手机 +86 138****5678 谢谢"),
        ("手机138 1234 5678", "手机138****5678"),
        ("身份证370125199001011234，电话13812345678", "身份证3701**********1234，电话138****5678"),
    ],
)
def test_personal_numbers_are_masked(raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "办理时限3个工作日，收费0元",
        "咨询电话0531-84230001",  # a landline is public information
        "编号1234567890123456789012",  # longer than an ID number
        "第12345678901234567位",  # 17 digits
    ],
)
def test_other_numbers_are_kept(kept: str) -> None:
    assert mask(kept) == kept


def test_mask_value_reaches_nested_strings() -> None:
    data = {"summary": "回电13812345678", "steps": ["身份证370125199001011234"], "n": 3}
    assert mask_value(data) == {"summary": "回电138****5678", "steps": ["身份证3701**********1234"], "n": 3}


def test_log_lines_are_masked_including_fields_and_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("citizen said %s", "我电话13812345678", extra={"fields": {"text": "身份证370125199001011234"}})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["event"] == "citizen said 我电话138****5678"
    assert line["text"] == "身份证3701**********1234"
    assert "13812345678" not in stream.getvalue() and "370125199001011234" not in stream.getvalue()


# -- settings ----------------------------------------------------------------------------------


def test_settings_come_from_yaml_then_environment(tmp_path: Path) -> None:
    yaml_file = tmp_path / "bot.yml"
    yaml_file.write_text("port: 9001\nrasa_url: http://rasa.internal:5005\nallowed_origins: [https://a.example]\n")
    config = BotConfig.load(yaml_file, env={"BOT_PORT": "9002", "JSB_DATA_DIR": str(tmp_path)})
    assert config.port == 9002  # the environment wins over the file
    assert config.rasa_url == "http://rasa.internal:5005"
    assert config.allowed_origins == ("https://a.example",)
    assert config.database == tmp_path / "bot.sqlite3"
    assert not config.telegram_enabled


def test_defaults_match_the_documented_ones() -> None:
    config = BotConfig.load(env={})
    assert (config.port, config.rasa_url, config.max_message_chars) == (8080, "http://127.0.0.1:5005", 4000)


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"BOT_PORT": "eighty"}, "port"),
        ({"BOT_PORT": "70000"}, "BOT_PORT"),
        ({"RASA_URL": "localhost:5005"}, "RASA_URL"),
        ({"RASA_URL": "http://127.0.0.1:5005,localhost:5006"}, "RASA_URL"),  # every instance's URL
        ({"TELEGRAM_TOKEN": "1:x", "TELEGRAM_MODE": "webhook"}, "TELEGRAM_WEBHOOK_URL"),
        ({"BOT_LOG_FORMAT": "xml"}, "BOT_LOG_FORMAT"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        BotConfig.load(env=env)


def test_unknown_yaml_keys_are_refused(tmp_path: Path) -> None:
    yaml_file = tmp_path / "bot.yml"
    yaml_file.write_text("prot: 9001\n")
    with pytest.raises(ConfigError, match="prot"):
        BotConfig.load(yaml_file, env={})


# -- state machine -----------------------------------------------------------------------------


def test_state_machine_allows_the_handoff_path_and_nothing_out_of_closed() -> None:
    check_transition(State.BOT, State.WAITING_HELPER)
    check_transition(State.WAITING_HELPER, State.WITH_HELPER)
    check_transition(State.WITH_HELPER, State.BOT)
    check_transition(State.WAITING_HELPER, State.BOT)
    for target in (State.BOT, State.WAITING_HELPER, State.WITH_HELPER):
        with pytest.raises(TransitionError):
            check_transition(State.CLOSED, target)
    with pytest.raises(TransitionError):
        check_transition(State.BOT, State.WITH_HELPER)  # a helper takes a conversation from the queue


# -- payloads ----------------------------------------------------------------------------------


def test_answer_payload_is_attached_to_the_text_before_it() -> None:
    replies = [
        {
            "recipient_id": "c",
            "text": "需要带身份证。",
            "buttons": [{"title": "网上怎么办", "payload": "/start_walkthrough"}],
        },
        {
            "recipient_id": "c",
            "custom": {
                "type": "answer",
                "entry_id": "guide.x",
                "entry_title": "个体工商户设立登记",
                "entry_kind": "guide",
                "element": "materials",
                "entry_version": 3,
            },
        },
        {"recipient_id": "c", "custom": {"type": "rating", "value": "good", "entry_id": "guide.x", "comment": None}},
        {"recipient_id": "c", "custom": {"type": "something_new"}},
    ]
    result = interpret(replies)
    assert [d.text for d in result.drafts] == ["需要带身份证。"]  # custom objects are never shown as text
    draft = result.drafts[0]
    assert draft.buttons == (Button("网上怎么办", "/start_walkthrough"),)
    assert draft.entry == Entry("guide.x", "个体工商户设立登记", "guide", "materials", 3)
    assert result.ratings == [{"type": "rating", "value": "good", "entry_id": "guide.x", "comment": None}]
    assert result.handoff is None


def test_handoff_and_walkthrough_payloads() -> None:
    replies = [
        {"text": "第 2 步：上传身份证照片。"},
        {"custom": {"type": "walkthrough", "entry_id": "guide.x", "step": 2, "total": 7}},
        {"text": "好的，正在为您转人工。"},
        {
            "custom": {
                "type": "handoff",
                "reason": "stuck",
                "service": "guide.x",
                "service_title": "个体工商户设立登记",
                "step": 2,
                "summary": "网上办理卡在第2步",
            }
        },
    ]
    result = interpret(replies)
    assert result.drafts[0].extra["walkthrough"] == {"entry_id": "guide.x", "step": 2, "total": 7}
    assert result.handoff is not None and result.handoff["reason"] == "stuck"
    assert ("handoff", {"reason": "stuck", "service": "guide.x", "step": 2}) in result.events


def test_malformed_replies_are_dropped_not_fatal() -> None:
    result = interpret(["text", {"custom": "x"}, {"custom": {"type": "answer"}}, {"buttons": "no"}, {"text": "  "}])
    assert result.drafts == [] and result.handoff is None and result.ratings == []


def test_rating_payload_names_the_entry() -> None:
    assert rating_payload("good", Entry("guide.x", "t")) == '/rate_good{"entry_id":"guide.x"}'
    assert rating_payload("bad", None) == "/rate_bad"


# -- store -------------------------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    store = await Store(tmp_path / "bot.sqlite3").open()
    yield store
    await store.close()


async def test_store_uses_wal_and_dedupes_client_ids(store: Store) -> None:
    rows = await store.rows("PRAGMA journal_mode")
    assert rows[0]["journal_mode"] == "wal"
    conversation = await store.create_conversation("webwidget", "visitor-1")
    first, duplicate = await store.add_incoming(conversation.id, "你好", client_id="c-00000001")
    again, duplicate_again = await store.add_incoming(conversation.id, "你好", client_id="c-00000001")
    assert (duplicate, duplicate_again) == (False, True)
    assert again.seq == first.seq
    assert len(await store.history(conversation.id)) == 1


async def test_pending_messages_come_back_oldest_first_and_leave_with_their_answer(store: Store) -> None:
    conversation = await store.create_conversation("rest", "user-1")
    one, _ = await store.add_incoming(conversation.id, "第一条")
    two, _ = await store.add_incoming(conversation.id, "第二条")
    assert (await store.next_pending(conversation.id)).seq == one.seq
    assert await store.conversations_to_retry() == [conversation.id]
    await store.add_outgoing(conversation.id, [OutgoingDraft("答一")], reply_to=one.seq, answers=one.seq)
    assert (await store.next_pending(conversation.id)).seq == two.seq
    assert (await store.get_message(one.seq)).status == Status.ANSWERED
    replies = await store.replies_to(one.seq)
    assert [r.text for r in replies] == ["答一"]


async def test_history_keeps_entries_buttons_and_ratings(store: Store) -> None:
    conversation = await store.create_conversation("webwidget", "visitor-2")
    entry = Entry("guide.x", "个体工商户设立登记", "guide", None, 1)
    [answer] = await store.add_outgoing(
        conversation.id, [OutgoingDraft("答", Kind.TEXT, (Button("好", "/affirm"),), entry)]
    )
    await store.add_rating(
        conversation, 5, message_seq=answer.seq, entry_id=entry.id, entry_title=entry.title, comment=None
    )
    [restored] = await store.history(conversation.id)
    assert restored.entry == entry and restored.buttons == (Button("好", "/affirm"),) and restored.rating == "5"
    assert restored.to_json()["entry"] == {
        "id": "guide.x",
        "title": "个体工商户设立登记",
        "kind": "guide",
        "element": None,
    }


async def test_state_changes_follow_the_state_machine(store: Store) -> None:
    conversation = await store.create_conversation("telegram", "42")
    assert (await store.set_state(conversation.id, State.WAITING_HELPER)).state == State.WAITING_HELPER
    assert (await store.set_state(conversation.id, State.CLOSED)).state == State.CLOSED
    with pytest.raises(TransitionError):
        await store.set_state(conversation.id, State.BOT)
    assert await store.find_open_conversation("telegram", "42") is None


async def test_analytics_are_stored_masked(store: Store) -> None:
    conversation = await store.create_conversation("webwidget", "visitor-3")
    await store.add_rating(
        conversation, "bad", message_seq=None, entry_id="guide.x", entry_title=None, comment="打13812345678没人接"
    )
    await store.add_handoff(conversation, {"reason": "request_human", "summary": "身份证370125199001011234办不了"})
    await store.add_event(conversation, "handoff", {"note": "电话13812345678"})
    dump = json.dumps(
        [
            await store.rows("SELECT comment FROM ratings"),
            await store.rows("SELECT summary FROM handoffs"),
            await store.rows("SELECT data FROM analytics_events"),
        ],
        ensure_ascii=False,
    )
    assert "13812345678" not in dump and "370125199001011234" not in dump
    assert "138****5678" in dump and "3701**********1234" in dump
