"""Reading one message more than one way before asking "您想问的是…?" (issue #11, needless
clarifications): the asking clause or the whole story settles close choices, an element asked at
the end is answered from the guide when the Q&A found does not ask about it, and of several
services named in a story the one in the asking part is meant.  Real Trackers, a private copy of
the curated data; the expected entries are the curated ones."""

from __future__ import annotations

import pytest
from actions_harness import Conversation, entity

from actions import turns
from actions.answers import ActionAnswer
from knowledge_base import KnowledgeBase

pytestmark = pytest.mark.usefixtures("store")


async def test_a_story_clause_before_the_question_does_not_make_a_tie() -> None:
    # Searched whole, the story words (开了个小饭馆) leave 设立 and 注销 close; the asking clause alone does not.
    c = Conversation()
    reply = await c.say(ActionAnswer(), "俺在村里开了个小饭馆 个体户执照怎么弄", "ask_service")
    assert reply.payload("answer")["entry_id"] == "guide.individual-business-registration", reply.text


async def test_an_element_asked_at_the_end_is_the_guides_when_the_qa_found_is_about_something_else(
    store: KnowledgeBase,
) -> None:
    # The Q&A found ("营业执照丢了要去哪里登报？") is about where to publish the loss, not about money.
    c = Conversation()
    reply = await c.say(ActionAnswer(), "营业执照丢了要登报，要花钱不", "ask_service")
    answer = reply.payload("answer")
    assert (answer["entry_id"], answer["element"]) == ("guide.business-license-replacement", "fee"), reply.text
    fee = store.element("guide.business-license-replacement", "fee")
    assert fee is not None and fee.splitlines()[0] in reply.text


async def test_a_qa_that_asks_the_element_itself_is_still_answered_verbatim() -> None:
    c = Conversation()
    reply = await c.say(ActionAnswer(), "俺家老人的身份证过期好几年了，换证要多久", "ask_service")
    answer = reply.payload("answer")
    assert (answer["entry_id"], answer["element"]) == ("qa.identity.id-card-expired-status", None), reply.text


def test_of_several_services_named_the_one_in_the_asking_part_is_meant() -> None:
    text = "老人走了留下套房子，想把房子过户给俺，听人说得办继承登记，要准备啥"
    found = [
        entity("service", "存量房（二手房）转移登记", text),
        entity("service", "不动产继承（受遗赠）转移登记", text),
    ]
    found[0].update(start=text.index("房子过户"), end=text.index("房子过户") + 4)
    found[1].update(start=text.index("继承登记"), end=text.index("继承登记") + 4)
    c = Conversation()
    tracker = c.tracker({"text": text, "intent": {"name": "ask_element"}, "entities": found})
    assert turns.entity_value(tracker, "service") == "不动产继承（受遗赠）转移登记"
    assert turns.entity_text(tracker, "service") == "继承登记"
    # Neither in the asking part: the one named last (the question comes after the story).
    text = "房子过户的事，还有继承登记的事，俺都不太懂，俺就想问问咱这边周末上班不上班啊"
    found[0].update(start=text.index("房子过户"), end=text.index("房子过户") + 4)
    found[1].update(start=text.index("继承登记"), end=text.index("继承登记") + 4)
    tracker = c.tracker({"text": text, "intent": {"name": "ask_service"}, "entities": list(found)})
    assert turns.entity_value(tracker, "service") == "不动产继承（受遗赠）转移登记"


async def test_the_service_in_the_asking_part_answers_the_element() -> None:
    text = "老人走了留下套房子，想把房子过户给俺，听人说得办继承登记，要准备啥材料"
    found = [
        {
            "entity": "service",
            "value": "存量房（二手房）转移登记",
            "start": text.index("房子过户"),
            "end": text.index("房子过户") + 4,
        },
        {
            "entity": "service",
            "value": "不动产继承（受遗赠）转移登记",
            "start": text.index("继承登记"),
            "end": text.index("继承登记") + 4,
        },
        entity("element", "materials"),
    ]
    c = Conversation()
    reply = await c.say(ActionAnswer(), text, "ask_element", found)
    answer = reply.payload("answer")
    assert (answer["entry_id"], answer["element"]) == ("guide.inheritance-registration", "materials"), reply.text


async def test_a_reply_naming_a_choice_in_other_words_picks_it() -> None:
    """ "丢了补的" shares no word with the titles offered for "身份证"; searched together with the
    question it answers, it clearly means 换领、补领."""
    c = Conversation()
    offered = await c.say(ActionAnswer(), "身份证", "ask_service")
    assert offered.text.startswith("您想问的是"), offered.text
    assert "guide.id-card-renewal-replacement" in c.slots["pending_choices"]
    reply = await c.say(ActionAnswer(), "丢了补的", "ask_service")
    assert reply.payload("answer")["entry_id"] == "guide.id-card-renewal-replacement", reply.text


async def test_a_new_question_while_choices_are_offered_is_not_taken_for_a_pick() -> None:
    c = Conversation()
    await c.say(ActionAnswer(), "身份证", "ask_service")
    reply = await c.say(ActionAnswer(), "社保卡丢了咋办", "ask_service")
    answer = reply.payloads("answer")
    assert not answer or not answer[0]["entry_id"].startswith("guide.id-card"), reply.text
