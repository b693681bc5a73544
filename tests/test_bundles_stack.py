"""一件事 bundles through the real servers (trained Rasa model + action server, Rasa's REST channel):
a bundle's materials computed from its members, an element follow-up on it, and the hint when a
citizen asks about two of its member matters."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_actions_stack import Chat, custom, texts

from knowledge_base.models import QA
from knowledge_base.store import Store

pytestmark = pytest.mark.rasa


def test_bundle_materials_then_how_long(rasa_stack) -> None:
    chat = Chat(rasa_stack)
    first = chat.say("退休一件事要带什么")
    [answer] = custom(first, "answer")
    assert (answer["entry_id"], answer["element"]) == ("bundle.retirement", "materials")
    assert "共用一套材料" in texts(first)
    follow = chat.say("那多久")
    [answer] = custom(follow, "answer")
    assert (answer["entry_id"], answer["element"]) == ("bundle.retirement", "time_limit")
    assert chat.slots()["service_id"] == "bundle.retirement"


def test_second_member_matter_points_out_the_bundle(rasa_stack, loaded_db: Path) -> None:
    chat = Chat(rasa_stack)
    chat.say("孩子出生了怎么报户口")
    reply = chat.say("孩子的社保卡怎么办")
    [answer] = custom(reply, "answer")
    # The card's guide or one of its own Q&As: either is about the member matter.
    entry = Store(loaded_db).get(answer["entry_id"])
    assert answer["entry_id"] == "guide.social-security-card" or (
        isinstance(entry, QA) and entry.guide == "guide.social-security-card"
    )
    assert "《出生一件事》一起办" in texts(reply)
