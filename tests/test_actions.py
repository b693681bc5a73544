"""The custom actions against a real knowledge-base store built from the curated data: answers,
follow-ups, clarification, fallback and handoff, ratings and bad input.

Expected facts are read from the store, never written into the test: what is checked is that the
assistant says what the knowledge base says, names its source and emits the payloads of
docs/payloads.md."""

from __future__ import annotations

import pytest
from actions_harness import Conversation, button_intent, entity, guide

from actions import knowledge
from actions.answers import ActionAnswer
from actions.fallback import ActionFallback
from actions.feedback import ActionRating
from actions.handoff import ActionComplaint, ActionHandoff
from actions.session import ActionReplyToOffer
from knowledge_base import KnowledgeBase
from knowledge_base.models import ELEMENT_LABELS, QA

pytestmark = pytest.mark.usefixtures("store")  # the action server reads a private KB copy

INDIVIDUAL = "guide.individual-business-registration"
CARD = "guide.social-security-card"

ANSWER_KEYS = {"type", "entry_id", "entry_title", "entry_kind", "element", "entry_version"}
HANDOFF_KEYS = {"type", "reason", "service", "service_title", "step", "summary"}
RATING_KEYS = {"type", "value", "entry_id", "comment"}


async def ask_element(c: Conversation, text: str, element: str | None, service: str | None = None):
    entities = []
    if service:
        entities.append(entity("service", service, text))
    if element:
        entities.append(entity("element", element))
    return await c.say(ActionAnswer(), text, "ask_element", entities)


# -- element answers and follow-ups ------------------------------------------------------------


async def test_element_answer_quotes_the_guide_and_names_it(store: KnowledgeBase) -> None:
    g = guide(store, INDIVIDUAL)
    reply = await ask_element(Conversation(), "办个体户执照要带什么材料", "materials", g.title)

    for material in g.materials:
        assert material.name in reply.text
    assert f"依据：《{g.title}》办事指南" in reply.text
    payload = reply.payload("answer")
    assert set(payload) == ANSWER_KEYS
    assert payload == {
        "type": "answer",
        "entry_id": g.id,
        "entry_title": g.title,
        "entry_kind": "guide",
        "element": "materials",
        "entry_version": store.store.version(g.id),
    }
    assert reply.slot("service_id") == g.id
    assert reply.slot("last_answer_id") == g.id
    # Next steps: other elements, the online walkthrough (this guide has online steps), a helper.
    assert "网上怎么办" in reply.button_titles and "转人工" in reply.button_titles
    assert "申请材料" not in reply.button_titles


async def test_every_element_of_a_guide_is_answered_from_its_own_text(store: KnowledgeBase) -> None:
    g = guide(store, CARD)
    for element in ELEMENT_LABELS:
        c = Conversation()
        reply = await ask_element(c, f"社保卡的{ELEMENT_LABELS[element]}", element, g.title)
        expected = store.element(g.id, element)
        if expected:
            assert expected in reply.text, element
            assert reply.payload("answer")["element"] == element
        else:
            assert not reply.payloads("answer"), element
            assert f"没有{ELEMENT_LABELS[element]}的说明" in reply.text


async def test_follow_up_uses_the_service_in_context(store: KnowledgeBase) -> None:
    g = guide(store, INDIVIDUAL)
    c = Conversation()
    await ask_element(c, "个体户营业执照要带什么材料", "materials", g.title)

    # "那要多少钱?" names no service: the NLU gives the element only, or nothing at all.
    with_entity = await ask_element(c, "那要多少钱？", "fee")
    assert g.fee.standard in with_entity.text
    assert f"《{g.title}》" in with_entity.text
    assert with_entity.payload("answer")["entry_id"] == g.id

    without_entity = await ask_element(c, "要多久能办好", None)
    assert g.time_limit.promised in without_entity.text
    assert without_entity.payload("answer")["element"] == "time_limit"


async def test_naming_another_service_switches_the_context(store: KnowledgeBase) -> None:
    first, second = guide(store, INDIVIDUAL), guide(store, CARD)
    c = Conversation()
    await ask_element(c, "个体户要带什么材料", "materials", first.title)
    reply = await ask_element(c, "社保卡补办要多少钱", "fee", second.title)
    assert second.fee.standard in reply.text and f"《{second.title}》" in reply.text
    assert c.slots["service_id"] == second.id
    # and the next follow-up is about the new service
    follow = await ask_element(c, "在哪里办", "location")
    assert second.location.address in follow.text


async def test_service_found_by_search_when_the_nlu_names_none(store: KnowledgeBase) -> None:
    g = guide(store, INDIVIDUAL)
    reply = await ask_element(Conversation(), f"{g.title}要带什么材料", "materials")
    assert reply.payload("answer")["entry_id"] == g.id
    assert g.materials[0].name in reply.text


async def test_qa_answer_is_verbatim_and_names_the_question(store: KnowledgeBase) -> None:
    qa = next(e for e in store.store.all("qa") if isinstance(e, QA) and e.guide)
    c = Conversation()
    reply = await c.say(ActionAnswer(), qa.question, "ask_service")
    assert qa.answer in reply.text
    assert f"《{qa.question}》" in reply.text
    assert reply.payload("answer") == {
        "type": "answer",
        "entry_id": qa.id,
        "entry_title": qa.question,
        "entry_kind": "qa",
        "element": None,
        "entry_version": 1,
    }
    # The Q&A's guide becomes the service in context: the next element question is about it.
    assert c.slots["service_id"] == qa.guide
    assert c.slots["last_answer_id"] == qa.id


async def test_overview_offers_elements_and_online_steps(store: KnowledgeBase) -> None:
    g = guide(store, INDIVIDUAL)
    reply = await Conversation().say(ActionAnswer(), g.title, "ask_service", [entity("service", g.title, g.title)])
    assert g.summary in reply.text
    payload = reply.payload("answer")
    assert (payload["entry_id"], payload["entry_kind"], payload["element"]) == (g.id, "guide", None)
    for title in ("申请材料", "受理条件", "网上怎么办", "转人工"):
        assert title in reply.button_titles
    # element buttons carry the element as an entity
    materials = next(b for b in reply.buttons if b["title"] == "申请材料")
    assert button_intent(materials["payload"]) == ("ask_element", {"element": "materials"})


async def test_other_elements_button_shows_the_overview_of_the_service_in_context(store: KnowledgeBase) -> None:
    g = guide(store, CARD)
    c = Conversation()
    await ask_element(c, "社保卡要带什么", "materials", g.title)
    reply = await c.press(ActionAnswer(), "/ask_service")
    assert g.summary in reply.text


# -- clarification and the confidence floor ------------------------------------------------------


async def test_close_hits_lead_to_a_clarifying_question_with_at_most_three_choices(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionAnswer(), "营业执照", "ask_service")
    assert reply.text.startswith("您想问的是")
    assert not reply.payloads("answer")
    choices = [button_intent(b["payload"]) for b in reply.buttons if b["payload"].startswith("/choose_entry")]
    assert 2 <= len(choices) <= 3
    for (intent, values), button in zip(choices, reply.buttons, strict=False):
        entry = store.get(values["entry_id"])
        assert intent == "choose_entry" and entry is not None
        assert button["title"] == knowledge.title(entry)
    assert reply.buttons[-1] == {"title": "都不是", "payload": "/deny"}
    assert c.slots["pending_offer"] == "clarify"

    # Choosing answers that entry.
    chosen_id = choices[1][1]["entry_id"]
    answer = await c.press(ActionAnswer(), reply.buttons[1]["payload"])
    assert answer.payload("answer")["entry_id"] == chosen_id
    assert c.slots["pending_offer"] is None


async def test_clarifying_an_element_question_keeps_the_element(store: KnowledgeBase) -> None:
    c = Conversation()
    # (Their time limits differ: choices that give one and the same answer are not asked about.)
    reply = await ask_element(c, "营业执照要多久", "time_limit")
    assert reply.text.startswith("您想问的是"), reply.text
    assert c.slots["pending_element"] == "time_limit"
    payload = next(b["payload"] for b in reply.buttons if b["payload"].startswith("/choose_entry"))
    chosen = guide(store, button_intent(payload)[1]["entry_id"])
    answer = await c.press(ActionAnswer(), payload)
    assert chosen.time_limit.promised in answer.text
    assert answer.payload("answer") == {**answer.payload("answer"), "entry_id": chosen.id, "element": "time_limit"}


async def test_choices_that_give_the_same_answer_to_the_element_are_not_asked_about(store: KnowledgeBase) -> None:
    # Every 营业执照 matter found is free of charge: asking which one was meant changes nothing.
    fees = {
        store.element(g, "fee") for g in ("guide.company-establishment-registration", "guide.business-license-change")
    }
    assert len(fees) == 1
    c = Conversation()
    reply = await ask_element(c, "营业执照要多少钱", "fee")
    assert not reply.text.startswith("您想问的是"), reply.text
    assert reply.payload("answer")["element"] == "fee"
    assert fees.pop() in store.element(reply.payload("answer")["entry_id"], "fee")


async def test_none_of_them_counts_as_not_understood(store: KnowledgeBase) -> None:
    c = Conversation()
    await c.say(ActionAnswer(), "营业执照", "ask_service")
    first = await c.say(ActionReplyToOffer(), "都不是", "deny")
    assert c.slots["fallback_streak"] == 1 and "换个说法" in first.text
    await c.say(ActionAnswer(), "营业执照", "ask_service")
    second = await c.press(ActionReplyToOffer(), "/deny")
    assert c.slots["pending_offer"] == "handoff" and "人工" in second.text


@pytest.mark.parametrize(
    "question", ["今天天气怎么样", "帮我订一张去北京的机票", "美国绿卡怎么申请", "我要办火星移民登记证"]
)
async def test_below_the_floor_nothing_is_answered(store: KnowledgeBase, question: str) -> None:
    reply = await Conversation().say(ActionAnswer(), question, "ask_service")
    assert not reply.payloads("answer")
    assert question in reply.text  # the citizen sees what was not found
    # rephrase with example questions from the knowledge base, as buttons that answer them
    examples = [button_intent(b["payload"]) for b in reply.buttons]
    assert 2 <= len(examples) <= 3
    for intent, values in examples:
        entry = store.get(values["entry_id"])
        assert intent == "choose_entry" and isinstance(entry, QA) and entry.question in reply.text


# -- fallback and handoff ------------------------------------------------------------------------


async def test_second_fallback_in_a_row_offers_a_helper_and_yes_hands_over(store: KnowledgeBase) -> None:
    c = Conversation()
    first = await c.say(ActionFallback(), "阿巴阿巴阿巴", "nlu_fallback")
    assert "换个说法" in first.text and c.slots["fallback_streak"] == 1
    assert not first.payloads("handoff")
    second = await c.say(ActionFallback(), "🤔🤔", "nlu_fallback")
    assert c.slots["fallback_streak"] == 2 and c.slots["pending_offer"] == "handoff"
    assert not second.payloads("handoff")
    assert [b["payload"] for b in second.buttons] == ["/affirm", "/deny"]

    accepted = await c.press(ActionReplyToOffer(), "/affirm")
    handoff = accepted.payload("handoff")
    assert set(handoff) == HANDOFF_KEYS
    assert handoff["reason"] == "fallback" and handoff["step"] is None
    assert "阿巴阿巴" in handoff["summary"]
    assert "人工" in accepted.text
    assert c.slots["handoff_active"] is True and c.slots["pending_offer"] is None


async def test_declining_the_helper_resets_the_streak(store: KnowledgeBase) -> None:
    c = Conversation()
    await c.say(ActionFallback(), "阿巴阿巴", "nlu_fallback")
    await c.say(ActionFallback(), "阿巴阿巴", "nlu_fallback")
    declined = await c.say(ActionReplyToOffer(), "不用了", "deny")
    assert not declined.payloads("handoff") and c.slots["fallback_streak"] == 0
    again = await c.say(ActionFallback(), "阿巴阿巴", "nlu_fallback")
    assert "换个说法" in again.text and c.slots["pending_offer"] is None


async def test_a_helped_turn_in_between_breaks_the_streak(store: KnowledgeBase) -> None:
    c = Conversation()
    await c.say(ActionFallback(), "阿巴阿巴", "nlu_fallback")
    await ask_element(c, "社保卡要带什么", "materials", guide(store, CARD).title)
    reply = await c.say(ActionFallback(), "阿巴阿巴", "nlu_fallback")
    assert c.slots["fallback_streak"] == 1 and "换个说法" in reply.text


async def test_an_unsure_nlu_still_gets_a_clear_kb_answer(store: KnowledgeBase) -> None:
    qa = next(e for e in store.store.all("qa") if isinstance(e, QA))
    reply = await Conversation().say(ActionFallback(), qa.question, "nlu_fallback")
    assert reply.payload("answer")["entry_id"] == qa.id
    assert qa.answer in reply.text


async def test_out_of_scope_is_not_searched(store: KnowledgeBase) -> None:
    reply = await Conversation().say(ActionFallback(), "社保卡怎么办", "out_of_scope")
    assert not reply.payloads("answer")
    assert "回答不了" in reply.text


async def test_request_human_hands_over_with_the_context(store: KnowledgeBase) -> None:
    g = guide(store, CARD)
    c = Conversation()
    await ask_element(c, "社保卡补办要带什么，我电话13812345678", "materials", g.title)
    reply = await c.say(ActionHandoff(), "转人工", "request_human")
    handoff = reply.payload("handoff")
    assert handoff == {
        "type": "handoff",
        "reason": "request_human",
        "service": g.id,
        "service_title": g.title,
        "step": None,
        "summary": handoff["summary"],
    }
    assert "已为您转接人工帮办" in reply.text
    # the summary quotes the last question, with the phone number masked
    assert "138****5678" in handoff["summary"] and "13812345678" not in handoff["summary"]
    assert "\n" not in handoff["summary"]
    assert c.slots["handoff_active"] is True

    again = await c.say(ActionHandoff(), "人呢", "request_human")
    assert "已经在为您转接" in again.text
    assert again.payload("handoff")["reason"] == "request_human"


async def test_complaint_hands_over_with_its_words(store: KnowledgeBase) -> None:
    text = "窗口工作人员态度太差了，身份证号370125199001011234都登记了还让我跑三趟"
    reply = await Conversation().say(ActionComplaint(), text, "complain")
    handoff = reply.payload("handoff")
    assert handoff["reason"] == "complaint" and handoff["service"] is None
    assert "3701**********1234" in handoff["summary"] and "370125199001011234" not in handoff["summary"]
    assert "抱歉" in reply.text and "人工" in reply.text


async def test_hand_back_resumes_with_the_same_service(store: KnowledgeBase) -> None:
    """The bot service hands back with slot events (docs/payloads.md): the context survives."""
    g = guide(store, CARD)
    c = Conversation()
    await ask_element(c, "社保卡要带什么", "materials", g.title)
    await c.say(ActionHandoff(), "转人工", "request_human")
    c.events.append({"event": "slot", "name": "handoff_active", "value": False})
    c.slots["handoff_active"] = False
    follow = await ask_element(c, "要多少钱", "fee")
    assert g.fee.standard in follow.text
    back = await c.say(ActionHandoff(), "再转一次人工", "request_human")
    assert "已为您转接人工帮办" in back.text


# -- ratings -------------------------------------------------------------------------------------


async def test_ratings_name_the_last_answered_entry(store: KnowledgeBase) -> None:
    g = guide(store, CARD)
    c = Conversation()
    await ask_element(c, "社保卡要带什么", "materials", g.title)

    good = await c.press(ActionRating(), "/rate_good")
    assert good.payload("rating") == {"type": "rating", "value": "good", "entry_id": g.id, "comment": None}
    assert "谢谢" in good.text

    bad = await c.say(ActionRating(), "没用，说得不清楚，打我电话13812345678", "rate_bad")
    rating = bad.payload("rating")
    assert set(rating) == RATING_KEYS
    assert rating["value"] == "bad" and rating["entry_id"] == g.id
    assert rating["comment"] == "没用，说得不清楚，打我电话138****5678"
    assert "/request_human" in [b["payload"] for b in bad.buttons]


async def test_rating_before_any_answer_names_no_entry(store: KnowledgeBase) -> None:
    reply = await Conversation().say(ActionRating(), "很好", "rate_good")
    assert reply.payload("rating") == {"type": "rating", "value": "good", "entry_id": None, "comment": "很好"}


# -- bad input -------------------------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("？？？！！！。。。", id="punctuation"),
    pytest.param("😀😀👍🙏", id="emoji"),
    pytest.param("办" * 5000, id="5000-chars"),
    pytest.param("我想办business license，营业执照 how much？", id="mixed-languages"),
    pytest.param("<script>alert(1)</script>' OR 1=1 --", id="markup-and-sql"),
    pytest.param('"营业执照" AND NOT ( * ', id="fts-syntax"),
    pytest.param("我要办火星移民登记证", id="unknown-service"),
    pytest.param("办理护照", id="service-the-kb-lacks"),
]


@pytest.mark.parametrize("text", BAD_INPUTS)
@pytest.mark.parametrize("intent", ["ask_service", "ask_element", "nlu_fallback", "out_of_scope"])
async def test_bad_input_gets_a_polite_reply(store: KnowledgeBase, text: str, intent: str) -> None:
    action = ActionFallback() if intent in ("nlu_fallback", "out_of_scope") else ActionAnswer()
    reply = await Conversation().say(action, text, intent)
    assert reply.text.strip(), "every message gets an answer"
    assert len(reply.text) < 600, "the citizen's text is never echoed in full"
    for payload in reply.payloads("answer"):
        assert store.get(payload["entry_id"]) is not None


async def test_bad_input_with_a_service_in_context(store: KnowledgeBase) -> None:
    c = Conversation()
    await ask_element(c, "社保卡要带什么", "materials", guide(store, CARD).title)
    for text in ("", "😀", "？？", "x" * 5000):
        reply = await ask_element(c, text, None)
        assert reply.text.strip()


async def test_unknown_entry_id_from_a_stale_button(store: KnowledgeBase) -> None:
    reply = await Conversation().press(ActionAnswer(), '/choose_entry{"entry_id":"guide.no-such-thing"}')
    assert not reply.payloads("answer") and "换个说法" in reply.text


async def test_an_unknown_service_entity_value_falls_back_to_search(store: KnowledgeBase) -> None:
    text = "社保卡补办要多少钱"
    reply = await ask_element(Conversation(), text, "fee", service="社保卡补办")
    # Answered, or asked about with the card among the choices: found by search either way.
    answered = [p["entry_id"] for p in reply.payloads("answer")]
    offered = [button_intent(b["payload"])[1].get("entry_id") for b in reply.buttons if "choose_entry" in b["payload"]]
    assert answered == [CARD] or (not answered and CARD in offered)


async def test_an_unsure_nlu_with_an_element_answers_for_the_service_in_context(store: KnowledgeBase) -> None:
    g = guide(store, CARD)
    c = Conversation()
    await ask_element(c, "社保卡要带什么", "materials", g.title)
    reply = await c.say(ActionFallback(), "怎么收费", "nlu_fallback", [entity("element", "fee")])
    assert g.fee.standard in reply.text and reply.payload("answer")["element"] == "fee"


async def test_the_named_service_wins_over_an_answer_about_another_matter(store: KnowledgeBase) -> None:
    """The NLU's service entity is strong evidence: a search hit about another matter does not
    override it (the citizen named 社保卡, so the answer is about 社保卡)."""
    card = guide(store, CARD)
    other = next(e for e in store.store.all("qa") if isinstance(e, QA) and e.guide and e.guide != CARD)
    text = other.question  # a question the search answers with another matter's Q&A
    reply = await Conversation().say(ActionAnswer(), text, "ask_service", [entity("service", card.title)])
    assert knowledge.matter(reply.payload("answer")["entry_id"]) == card.id
