"""Analytics pre-aggregation and report (bot/analytics.py) on a real store: the rollup's counts equal
counting the stored rows directly, new rows are folded in once, filters and trends hold, exports
carry the same numbers and no personal numbers."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot import analytics
from bot.conversations import Conversation, Entry, OutgoingDraft
from bot.store import Store

ZONE = ZoneInfo("Asia/Shanghai")
ENTRIES = {
    "guide.a": ("营业执照办理", "guide", "business"),
    "qa.b": ("社保卡挂失", "qa", "social_insurance"),
    "qa.never": ("从没人问的条目", "qa", "tax"),
}
NAMES = analytics.Names(ENTRIES, {"business": "企业开办", "social_insurance": "社会保险", "tax": "税务"})


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    store = await Store(tmp_path / "bot.sqlite3").open()
    yield store
    await store.close()


async def turn(store: Store, conversation: Conversation, text: str, entry_id: str | None, reason: str | None) -> None:
    """One citizen message and its outcome, written the way bot.service writes them."""
    message, _ = await store.add_incoming(conversation.id, text)
    events = []
    drafts = [OutgoingDraft("答")]
    if entry_id:
        drafts = [OutgoingDraft("答", entry=Entry(entry_id, ENTRIES[entry_id][0], ENTRIES[entry_id][1], None, 1))]
        events = [("answer", {"entry_id": entry_id, "element": None, "kind": "qa"})]
    if reason == "handoff":
        events.append(("handoff", {"reason": "request_human", "service": entry_id, "step": None}))
    await store.record_answer(conversation, drafts, answers=message.seq, events=events)
    if reason in ("not_found", "clarify"):
        await store.track_questions(conversation, message, [{"reason": reason, "choices": []}], [])


def filters(**kw) -> analytics.Filters:
    today = datetime.now(ZONE).date()
    base = {"start": today - timedelta(days=6), "end": today, "channel": None, "domain": None, "zone": ZONE}
    return analytics.Filters(**{**base, **kw})


async def test_rollup_counts_equal_the_stored_rows_and_new_rows_fold_in_once(store: Store) -> None:
    web = await store.create_conversation("webwidget", "v1")
    tg = await store.create_conversation("telegram", "42")
    await turn(store, web, "营业执照怎么办", "guide.a", None)
    await turn(store, web, "营业执照要钱吗", "guide.a", None)
    await turn(store, web, "社保卡丢了", "qa.b", None)
    await turn(store, tg, "我家猫丢了 13812345678", None, "not_found")
    await turn(store, tg, "那个证", None, "clarify")
    await turn(store, tg, "转人工", None, "handoff")
    await analytics.refresh(store, {k: v[2] for k, v in ENTRIES.items()})
    result = analytics.report(store.db, filters(), NAMES, 60)

    [direct] = await store.rows("SELECT COUNT(*) AS n FROM messages WHERE direction = 'in'")
    assert result["headline"]["questions"] == direct["n"] == 6
    channels = dict(map(tuple, result["charts"]["volume_by_channel"]["rows"]))
    assert channels == {"网页": 3, "Telegram": 3}
    outcomes = {row[0]: row[1] for row in result["charts"]["outcomes"]["rows"]}
    assert outcomes == {"已回答": 3, "追问澄清": 1, "未能回答": 1, "转人工": 1}
    assert result["headline"]["answered_share"] == pytest.approx(3 / 6, abs=1e-4)
    assert result["charts"]["top_services"]["rows"] == [["营业执照办理", "企业开办", 2], ["社保卡挂失", "社会保险", 1]]
    assert result["charts"]["entry_hits"]["rows"] == [["从没人问的条目", "税务"]]
    [unanswered] = result["charts"]["top_unanswered"]["rows"]
    assert unanswered[0] == "我家猫丢了 138****5678" and unanswered[1] == 1
    assert sum(row[1] for row in result["charts"]["volume_by_day"]["rows"]) == 6
    assert sum(row[1] for row in result["charts"]["volume_by_hour"]["rows"]) == 6

    # Folding again adds nothing; new rows are added once.
    await analytics.refresh(store)
    assert analytics.report(store.db, filters(), NAMES, 60)["headline"]["questions"] == 6
    await turn(store, web, "营业执照在哪办", "guide.a", None)
    await analytics.refresh(store)
    again = analytics.report(store.db, filters(), NAMES, 60)
    assert again["headline"]["questions"] == 7
    assert again["charts"]["top_services"]["rows"][0] == ["营业执照办理", "企业开办", 3]

    # Filters: a channel, a domain; an empty period before this one.
    only_tg = analytics.report(store.db, filters(channel="telegram"), NAMES, 60)
    assert only_tg["headline"]["questions"] == 3 and only_tg["charts"]["top_services"]["rows"] == []
    social = analytics.report(store.db, filters(domain="social_insurance"), NAMES, 60)
    assert social["charts"]["top_services"]["rows"] == [["社保卡挂失", "社会保险", 1]]
    assert again["headline"]["previous"]["questions"] == 0


async def test_ratings_by_entry_with_reasons_and_the_follow_up_rate(store: Store) -> None:
    conversation = await store.create_conversation("webwidget", "v2")
    for level, reason in ((1, "wrong"), (2, "wrong"), (2, "unclear"), (5, None)):
        await store.add_rating(
            conversation,
            level,
            message_seq=None,
            entry_id="qa.b",
            entry_title="社保卡挂失",
            comment=None,
            reason=reason,
        )
    await store.add_rating(conversation, 4, message_seq=None, entry_id="guide.a", entry_title="t", comment=None)
    [first] = await store.rows("SELECT id FROM ratings WHERE level = 1")
    await store.close_items("rating", [first["id"]], "rectified", "审核老周", None, None)
    await analytics.refresh(store)
    result = analytics.report(store.db, filters(), NAMES, 60)
    levels = dict(map(tuple, result["charts"]["rating_levels"]["rows"]))
    assert levels == {"非常满意": 1, "满意": 1, "基本满意": 0, "不满意": 2, "非常不满意": 1}
    assert result["charts"]["rating_reasons"]["rows"] == [["内容不准确或已过时", 2], ["看不懂，说得太复杂", 1]]
    rows = {row[0]: row for row in result["charts"]["rating_entries"]["rows"]}
    assert rows["社保卡挂失"] == ["社保卡挂失", "社会保险", 4, 2.5, 3, "内容不准确或已过时"]
    assert result["follow_up"] == {
        "bad_ratings": 3,
        "closed": 1,
        "overdue": 0,
        "follow_up_rate": pytest.approx(1 / 3, abs=1e-4),
    }
    assert result["headline"]["satisfied_share"] == pytest.approx(2 / 5)


def test_exports_carry_the_table() -> None:
    chart = analytics._table("各渠道咨询量", ["渠道", "咨询量"], [["网页", 3], ["Telegram", 2]])
    rows = list(csv.reader(io.StringIO(analytics.to_csv(chart).decode("utf-8-sig"))))
    assert rows == [["渠道", "咨询量"], ["网页", "3"], ["Telegram", "2"]]
    sheet = load_workbook(io.BytesIO(analytics.to_xlsx(chart))).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["渠道", "咨询量"], ["网页", 3], ["Telegram", 2]]


def test_date_filters_are_checked() -> None:
    today = date(2026, 3, 31)
    parsed = analytics.Filters.parse({}, ZONE, today)
    assert (parsed.start, parsed.end) == (date(2026, 3, 2), today)
    assert parsed.previous().end == date(2026, 3, 1) and parsed.previous().start == date(2026, 1, 31)
    for bad in (
        {"from": "2026-04-02", "to": "2026-04-01"},
        {"from": "昨天"},
        {"from": "2024-01-01", "to": "2026-01-01"},
    ):
        with pytest.raises(analytics.RefusedError):
            analytics.Filters.parse(bad, ZONE, today)
