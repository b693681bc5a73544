"""Issue #14 on the Rasa process's side: the tracker holds masked text (finding 6), a retried
message is answered from the tracker instead of being recorded twice (finding 7), the token is not
on the command line (finding 9)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_channel import replayed_replies
from bot.rasa_tracker_store import SQLiteTrackerStore

DOMAIN = Domain.from_dict({"slots": {"note": {"type": "text", "mappings": [{"type": "custom"}]}}})
ID = "370125199001011234"
MOBILE = "13812345678"


async def test_the_tracker_file_holds_no_raw_number(tmp_path: Path) -> None:
    path = tmp_path / "tracker.sqlite3"
    store = SQLiteTrackerStore(domain=DOMAIN, db=str(path))
    tracker = DialogueStateTracker("c1", DOMAIN.slots)
    said = f"我的身份证{ID}，电话{MOBILE}"
    tracker.update(UserUttered(said, parse_data={"text": said, "intent": {"name": "inform"}}, message_id="jsb-7"))
    tracker.update(SlotSet("note", said))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)

    raw = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("tracker.sqlite3-*"))
    with sqlite3.connect(path) as db:
        rows = " ".join(row[0] for row in db.execute("SELECT data FROM events"))
    for number in (ID, MOBILE):
        assert number not in rows and number.encode() not in raw
    assert "3701**********1234" in rows and "138****5678" in rows
    again = await store.retrieve("c1")
    assert again is not None and again.events[0].message_id == "jsb-7"  # ids are kept as they are


def test_a_recorded_message_is_replayed_not_repeated() -> None:
    events = [
        UserUttered("社保卡咋补办", message_id="jsb-1"),
        BotUttered("请带身份证到大厅。", data={"custom": {"entry_id": "x"}}),
        BotUttered("还有什么可以帮您？"),
        ActionExecuted("action_listen"),
        UserUttered("那要多少钱", message_id="jsb-2"),
        BotUttered("免费。"),
    ]
    first = replayed_replies(events, "jsb-1")
    assert [reply["text"] for reply in first] == ["请带身份证到大厅。", "还有什么可以帮您？"]
    assert first[0]["custom"] == {"entry_id": "x"}
    assert [reply["text"] for reply in replayed_replies(events, "jsb-2")] == ["免费。"]
    assert replayed_replies(events, "jsb-3") is None  # never recorded: Rasa handles it as new


def test_the_rasa_token_goes_in_by_environment_not_argv(monkeypatch) -> None:
    from scripts.rasa_server import token_from_environment

    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    assert "--auth-token" not in procfile and "RASA_TOKEN" not in procfile.split("rasa:", 1)[1].splitlines()[0]
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    assert token_from_environment(["rasa", "run", "--port", "1"])[-2:] == ["--auth-token", "s3cret"]
    assert token_from_environment(["rasa", "train"]) == ["rasa", "train"]
