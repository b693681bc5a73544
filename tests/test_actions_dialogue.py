"""Conversations resolved against the conversation state (actions/state.py, docs/dialogue.md):
follow-ups, going back to an earlier service, picking offered choices by number / ordinal / text,
explicit requests kept through a clarification, place words as context, centre follow-ups,
unreadable messages and the waiting-for-a-helper state.  Real Trackers, a real store built from
the curated data; expected facts are read from the store."""

from __future__ import annotations

import pytest
from actions_harness import Conversation, entity, guide

from actions.answers import ActionAnswer
from actions.centers import ActionNearestCenter
from actions.fallback import ActionFallback
from actions.handoff import ActionComplaint, ActionHandoff
from actions.session import ActionGreet, ActionReplyToOffer, ActionSmallTalk
from actions.state import State
from actions.turns import simplified
from actions.walkthrough import ActionResume, ActionWalkthroughNext, ActionWalkthroughStart
from knowledge_base import KnowledgeBase
from knowledge_base.models import Center, Guide

pytestmark = pytest.mark.usefixtures("store")  # the action server reads a private KB copy

INDIVIDUAL = "guide.individual-business-registration"
CARD = "guide.social-security-card"
CHANGE = "guide.business-license-change"
CUIZHAI = "center.cuizhai-jiedao"
HUIHE = "center.huihe-jiedao"


def center(kb: KnowledgeBase, center_id: str) -> Center:
    entry = kb.get(center_id)
    assert isinstance(entry, Center), center_id
    return entry


async def ask(c: Conversation, text: str, element: str | None = None, service: str | None = None, action=None):
    entities = []
    if service:
        entities.append(entity("service", service, text))
    if element:
        entities.append(entity("element", element))
    intent = "ask_element" if element else "ask_service"
    return await c.say(action or ActionAnswer(), text, intent, entities)


def clarifying(c: Conversation, choices: list[str], then: str | None = None, element: str | None = None) -> None:
    """The state right after "您想问的是…?" offered `choices`."""
    c.slots.update(
        pending_offer="clarify",
        pending_choices=choices,
        choice_kind="entry",
        pending_then=then,
        pending_element=element,
    )


def answered(reply) -> tuple[str, str | None]:
    payload = reply.payload("answer")
    return payload["entry_id"], payload["element"]


# -- the state ------------------------------------------------------------------------------------


async def test_the_state_is_read_from_the_slots_and_an_answer_moves_the_service_into_the_recent_ones(
    store: KnowledgeBase,
) -> None:
    c = Conversation()
    await ask(c, "个体户营业执照要带什么材料", "materials", guide(store, INDIVIDUAL).title)
    await ask(c, "社保卡补办要多少钱", "fee", guide(store, CARD).title)
    state = State.of(c.tracker({}))
    assert (state.service_id, state.element) == (CARD, "fee")
    assert state.recent_services == (CARD, INDIVIDUAL)
    assert state.earlier_service() == INDIVIDUAL
    assert not state.choices and state.pending_offer is None


# -- follow-ups -----------------------------------------------------------------------------------


async def test_going_back_to_the_service_discussed_before(store: KnowledgeBase) -> None:
    first, second = guide(store, INDIVIDUAL), guide(store, CARD)
    c = Conversation()
    await ask(c, "个体户营业执照要带什么材料", "materials", first.title)
    await ask(c, "社保卡补办要多少钱", "fee", second.title)
    reply = await ask(c, "刚才那个要多少钱", "fee")
    assert answered(reply) == (first.id, "fee")
    assert first.fee.standard in reply.text
    assert c.slots["service_id"] == first.id


async def test_a_follow_up_naming_another_matter_keeps_the_element_asked(store: KnowledgeBase) -> None:
    first, second = guide(store, INDIVIDUAL), guide(store, CARD)
    c = Conversation()
    await ask(c, "个体户营业执照要多少钱", "fee", first.title)
    reply = await ask(c, "那社保卡呢", None, second.title)
    assert answered(reply) == (second.id, "fee")


async def test_a_new_question_naming_a_service_is_not_taken_as_elliptical(store: KnowledgeBase) -> None:
    first, second = guide(store, INDIVIDUAL), guide(store, CARD)
    c = Conversation()
    await ask(c, "个体户营业执照要多少钱", "fee", first.title)
    reply = await ask(c, "我想办社保卡", None, second.title)
    assert answered(reply) == (second.id, None)


async def test_a_bare_element_question_after_an_ignored_clarification_uses_its_first_choice(
    store: KnowledgeBase,
) -> None:
    c = Conversation()
    clarifying(c, [CHANGE, INDIVIDUAL])
    # "贵不贵" is often read as a no; it is a question about the fee all the same.
    reply = await c.say(ActionReplyToOffer(), "贵不贵", "deny")
    assert answered(reply) == (CHANGE, "fee")
    assert guide(store, CHANGE).fee.standard in reply.text


# -- choices --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "action", "index"),
    [
        ("2", "goodbye", ActionSmallTalk, 1),
        ("第二个", "nlu_fallback", ActionFallback, 1),
        ("后面那个", "resume", ActionResume, 2),
        ("最后一个", "next_step", ActionWalkthroughNext, 2),
        ("我选第一个吧", "ask_service", ActionAnswer, 0),
        ("变更", "ask_service", ActionAnswer, 1),
    ],
)
async def test_a_choice_is_picked_by_number_ordinal_or_text_whatever_the_intent(
    store: KnowledgeBase, text: str, intent: str, action: type, index: int
) -> None:
    offered = [INDIVIDUAL, CHANGE, CARD]
    c = Conversation()
    clarifying(c, offered)
    reply = await c.say(action(), text, intent)
    assert answered(reply)[0] == offered[index]
    assert c.slots["pending_choices"] is None and c.slots["pending_offer"] is None
    assert "再见" not in reply.text


async def test_an_element_asked_with_the_choice_is_answered(store: KnowledgeBase) -> None:
    c = Conversation()
    clarifying(c, [INDIVIDUAL, CHANGE])
    reply = await c.say(ActionAnswer(), "第二个要多少钱", "ask_element", [entity("element", "fee")])
    assert answered(reply) == (CHANGE, "fee")


async def test_yes_to_a_single_choice_answers_it(store: KnowledgeBase) -> None:
    c = Conversation()
    clarifying(c, [CARD], element="materials")
    reply = await c.say(ActionReplyToOffer(), "对，是这个", "affirm")
    assert answered(reply) == (CARD, "materials")


async def test_an_asked_for_walkthrough_starts_once_the_choice_is_made(store: KnowledgeBase) -> None:
    online = [g for g in store.store.all("guide") if isinstance(g, Guide) and g.online is not None][:3]
    c = Conversation()
    clarifying(c, [g.id for g in online], then="walkthrough", element="online")
    reply = await c.say(ActionSmallTalk(), "2", "goodbye")
    assert reply.payload("walkthrough") == {
        "type": "walkthrough",
        "entry_id": online[1].id,
        "step": 1,
        "total": len(online[1].online.steps),
    }
    follow = await c.say(ActionWalkthroughNext(), "下一步", "next_step")
    assert follow.payload("walkthrough")["step"] == 2


async def test_the_walkthrough_question_keeps_the_request_through_the_button(store: KnowledgeBase) -> None:
    c = Conversation()
    reply = await c.say(ActionWalkthroughStart(), "营业执照网上咋办", "start_walkthrough")
    assert reply.payload("unresolved")["reason"] == "clarify"  # several 营业执照 guides can be done online
    assert c.slots["pending_then"] == "walkthrough"
    first = reply.buttons[0]
    chosen = await c.press(ActionAnswer(), first["payload"])
    assert chosen.payload("walkthrough")["step"] == 1


async def test_example_questions_after_a_miss_can_be_picked_by_number(store: KnowledgeBase) -> None:
    c = Conversation()
    miss = await c.say(ActionFallback(), "今天天气怎么样", "out_of_scope")
    examples = c.slots["pending_choices"]
    assert examples and len(miss.buttons) == len(examples)
    reply = await c.say(ActionSmallTalk(), "1", "goodbye")
    assert answered(reply)[0] == examples[0]


# -- place words and 就近办 ----------------------------------------------------------------------


async def test_a_place_as_context_does_not_turn_a_question_into_a_centre_card(store: KnowledgeBase) -> None:
    text = "俺住崔寨，想问问孩子上学要啥材料"
    c = Conversation()
    c.slots["place"] = "崔寨街道"
    reply = await c.say(
        ActionNearestCenter(),
        text,
        "ask_nearest_center",
        [entity("element", "materials"), entity("place", "崔寨", text)],
    )
    assert not any(p["entry_kind"] == "center" for p in reply.payloads("answer"))
    offered = reply.payloads("answer") or reply.payloads("unresolved")
    assert offered, reply.messages
    ids = [p["entry_id"] for p in reply.payloads("answer")] or offered[0]["choices"]
    assert all("enrollment" in i for i in ids), ids


async def test_where_near_me_after_saying_where_one_lives_is_that_places_centre(store: KnowledgeBase) -> None:
    senior_card = "guide.senior-preferential-card"
    c = Conversation()
    c.slots["place"] = "垛石镇"  # from the first message's place entity ("俺住垛石，想办老年证要啥")
    await ask(c, "俺住垛石，想办老年证要啥", "materials", guide(store, senior_card).title)
    reply = await c.say(ActionFallback(), "那俺就近去哪办", "nlu_fallback", confidence=0.3)
    assert answered(reply)[0] == "center.duoshi-zhen", reply.text
    assert guide(store, senior_card).title in reply.text  # where the service is done, then the centre
    again = await ask(c, "俺们那能办吗，在哪", "location")
    assert answered(again)[0] == "center.duoshi-zhen", again.text


async def test_where_near_me_is_not_a_centre_without_a_place_or_for_a_district_only_service(
    store: KnowledgeBase,
) -> None:
    c = Conversation()  # no place said before
    await ask(c, "老年证要啥材料", "materials", guide(store, "guide.senior-preferential-card").title)
    reply = await ask(c, "俺们那能办吗，在哪", "location")
    assert answered(reply) == ("guide.senior-preferential-card", "location"), reply.text
    house = Conversation()
    house.slots["place"] = "垛石镇"
    await ask(house, "二手房过户要啥材料", "materials", guide(store, "guide.second-hand-house-transfer").title)
    reply = await ask(house, "俺们那能办吗，在哪", "location")
    assert answered(reply) == ("guide.second-hand-house-transfer", "location"), reply.text  # the district's office


async def test_a_centres_hours_asked_right_after_naming_it(store: KnowledgeBase) -> None:
    cuizhai = center(store, CUIZHAI)
    c = Conversation()
    c.slots["place"] = cuizhai.area
    await c.say(ActionNearestCenter(), "崔寨的便民服务中心在哪", "ask_nearest_center", [entity("place", "崔寨")])
    reply = await c.say(ActionAnswer(), "几点上班", "ask_element")
    assert cuizhai.hours in reply.text and cuizhai.name in reply.text
    assert answered(reply)[0] == CUIZHAI


async def test_the_other_centre_named(store: KnowledgeBase) -> None:
    c = Conversation()
    c.slots["place"] = "崔寨街道"
    text = "崔寨和回河的便民服务中心在哪"
    first = await c.say(ActionNearestCenter(), text, "ask_nearest_center", [entity("place", "崔寨", text)])
    assert answered(first)[0] == CUIZHAI
    other = await c.say(ActionWalkthroughNext(), "那另一个呢", "next_step")
    assert answered(other)[0] == HUIHE
    assert center(store, HUIHE).address in other.text


async def test_a_misspelt_street_finds_its_centre(store: KnowledgeBase) -> None:
    reply = await Conversation().say(ActionNearestCenter(), "回合街道便民服务中心在哪", "ask_nearest_center")
    assert answered(reply)[0] == HUIHE


# -- long messages --------------------------------------------------------------------------------


async def test_a_long_story_is_answered_from_its_question(store: KnowledgeBase) -> None:
    g = guide(store, INDIVIDUAL)
    text = (
        "我是做小买卖的，在街上开了个小卖部干了好几年了，一直没办过执照，最近听说查得严了，"
        "俺寻思着去办一个，个体户营业执照咋办？要多少钱"
    )
    reply = await Conversation().say(ActionAnswer(), text, "ask_service", [entity("element", "fee")])
    assert answered(reply) == (g.id, "fee")


async def test_a_story_too_weak_on_its_own_offers_what_both_views_agree_on(store: KnowledgeBase) -> None:
    text = (
        "俺家孩子今年九月该上小学了，俺们是去年从外地搬过来的，户口还在老家没迁过来，房子是租的，"
        "想问问上学要准备啥材料？"
    )
    reply = await Conversation().say(ActionAnswer(), text, "ask_service", [entity("element", "materials")])
    choices = reply.payload("unresolved")["choices"]
    # Moved here, 户口 still in the old home: primary-school enrolment, or the one for children who
    # moved with their parents (随迁子女), which fits this story best.
    school = {"guide.primary-school-enrollment", "guide.migrant-children-enrollment"}
    assert set(choices) & school and len(choices) <= 3


# -- unreadable input and the handoff rules ----------------------------------------------------------


@pytest.mark.parametrize("text", ["asdfghjkl", "qwerty", "dfgdfgdfg"])
async def test_keyboard_mash_read_as_small_talk_gets_not_understood(store: KnowledgeBase, text: str) -> None:
    reply = await Conversation().say(ActionSmallTalk(), text, "thanks")
    assert "没听明白" in reply.text and "办事指南" in reply.text
    assert "不客气" not in reply.text
    assert reply.payload("unresolved")["reason"] == "no_words"


@pytest.mark.parametrize("text", ["How do I get an ID card?", "shenfenzheng zenme ban", "こんにちは"])
async def test_english_pinyin_and_other_languages_get_a_short_chinese_answer(store: KnowledgeBase, text: str) -> None:
    reply = await Conversation().say(ActionAnswer(), text, "ask_service")
    assert "只能看懂中文" in reply.text and "办事指南" in reply.text
    assert not reply.payloads("answer")


async def test_two_misses_in_a_row_offer_a_helper_and_yes_hands_over(store: KnowledgeBase) -> None:
    c = Conversation()
    await c.say(ActionSmallTalk(), "asdfghjkl", "thanks")
    second = await c.say(ActionGreet(), "qwertyuiop", "greet")
    assert "转接人工" in second.text and c.slots["pending_offer"] == "handoff"
    yes = await c.say(ActionReplyToOffer(), "好的", "affirm")
    assert yes.payload("handoff")["reason"] == "fallback"


async def test_a_miss_right_after_a_clarification_the_citizen_let_pass_offers_a_helper(store: KnowledgeBase) -> None:
    c = Conversation()
    clarifying(c, [INDIVIDUAL, CHANGE])  # the assistant was not sure what the first message meant
    second = await c.say(ActionFallback(), "就是那个啥你懂的", "nlu_fallback", confidence=0.3)
    assert "转接人工" in second.text and c.slots["pending_offer"] == "handoff"
    # Without a clarification before it, one miss asks to rephrase first.
    fresh = Conversation()
    first = await fresh.say(ActionFallback(), "就是那个啥你懂的", "nlu_fallback", confidence=0.3)
    assert "转接人工" not in first.text and fresh.slots["pending_offer"] != "handoff"


async def test_a_question_in_traditional_characters_is_read_as_simplified(store: KnowledgeBase) -> None:
    assert simplified("辦身份證要帶什麼材料") == "办身份证要带什么材料"
    assert simplified("俺住崔寨，戶口遷移咋辦") == "俺住崔寨，户口迁移咋办"  # same length: entity offsets hold
    c = Conversation()
    reply = await ask(c, "辦身份證要帶什麼材料", "materials")
    # 办身份证 is first application or renewal: found and asked about, not "nothing found".
    found = [p["entry_id"] for p in reply.payloads("answer")] or reply.payload("unresolved")["choices"]
    assert found and all("id-card" in i for i in found), reply.text
    assert c.slots["pending_element"] == "materials" or answered(reply)[1] == "materials"


async def test_nothing_to_resume_then_a_miss_offers_a_helper(store: KnowledgeBase) -> None:
    c = Conversation()
    first = await c.say(ActionResume(), "俺那个事儿咋整啊就是上回那个", "resume")
    assert "转接人工" not in first.text and c.slots["pending_choices"]  # examples to pick from
    second = await c.say(ActionFallback(), "就是那个啥你懂的", "nlu_fallback", confidence=0.3)
    assert "转接人工" in second.text and c.slots["pending_offer"] == "handoff"


async def test_a_doubtful_small_talk_guess_is_not_answered_as_small_talk(store: KnowledgeBase) -> None:
    c = Conversation()
    latest = {"text": "的撒旦法师打发", "intent": {"name": "thanks", "confidence": 0.31}, "entities": []}
    c.events.append({"event": "user", "text": latest["text"], "parse_data": latest})
    reply = await c.run(ActionSmallTalk(), latest)
    assert "没听明白" in reply.text and "不客气" not in reply.text


@pytest.mark.parametrize(
    ("text", "intent", "action"),
    [("有人吗", "greet", ActionGreet), ("人呢", "complain", ActionComplaint), ("在吗", "chitchat", ActionSmallTalk)],
)
async def test_asking_whether_anyone_is_there_while_waiting_gets_the_queue_state(
    store: KnowledgeBase, text: str, intent: str, action: type
) -> None:
    c = Conversation()
    await c.say(ActionHandoff(), "转人工", "request_human")
    assert c.slots["handoff_active"] is True
    reply = await c.say(action(), text, intent)
    assert "队列" in reply.text
    assert not reply.payloads("handoff")
    assert "您好，我是" not in reply.text and "非常抱歉" not in reply.text
    # Asked for a person again (the NLU's request_human): the same queue place, said as such.
    again = await c.say(ActionHandoff(), "有人吗", "request_human")
    assert "已经在为您转接" in again.text and "队列" in again.text


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("好的", True),
        ("嗯嗯，谢谢！", True),
        ("不用了", True),
        ("嗯嗯嗯那个东西呢", False),
        ("就是那个啥你懂的", False),
    ],
)
def test_only_a_bare_yes_or_no_is_read_as_one_with_nothing_on_offer(text: str, plain: bool) -> None:
    from actions.session import PLAIN_YES_NO

    assert bool(PLAIN_YES_NO.match(text)) is plain


# -- doubtful intents, unreadable digits, follow-ups resolved against the services discussed -------

MOVE_IN = "guide.household-move-in"
MOVE_OUT = "guide.household-move-out"


async def test_a_doubtful_stuck_guess_picks_the_choice_it_names_instead_of_handing_over(
    store: KnowledgeBase,
) -> None:
    from actions.handoff import ActionStuck

    c = Conversation()
    clarifying(c, [MOVE_IN, MOVE_OUT])
    reply = await c.say(ActionStuck(), "要迁出的", "stuck", confidence=0.3)
    assert not reply.payloads("handoff") and c.slots["handoff_active"] is not True
    assert answered(reply)[0] == MOVE_OUT


async def test_a_doubtful_complaint_without_its_words_is_not_handed_over(store: KnowledgeBase) -> None:
    # A phone-assistant command the NLU took for a complaint: a miss, not a helper's queue.
    c = Conversation()
    reply = await c.say(ActionComplaint(), "帮我给老王发个短信", "complain", confidence=0.4)
    assert not reply.payloads("handoff") and c.slots["handoff_active"] is not True
    assert reply.payload("unresolved")


@pytest.mark.parametrize(("text", "confidence"), [("窗口的人态度太差了", 0.4), ("你们这办事的不行", 0.9)])
async def test_a_complaint_with_its_words_or_a_confident_one_is_handed_over(
    store: KnowledgeBase, text: str, confidence: float
) -> None:
    c = Conversation()
    reply = await c.say(ActionComplaint(), text, "complain", confidence=confidence)
    assert reply.payload("handoff")["reason"] == "complaint"


async def test_a_number_or_ordinal_picks_a_choice_even_when_read_as_stop(store: KnowledgeBase) -> None:
    from actions.walkthrough import ActionStop

    c = Conversation()
    clarifying(c, [MOVE_IN, MOVE_OUT])
    reply = await c.say(ActionStop(), "头一个吧", "stop", confidence=0.9)
    assert answered(reply)[0] == MOVE_IN


async def test_a_doubtful_stop_after_an_answer_is_read_as_a_question_about_it(store: KnowledgeBase) -> None:
    from actions.walkthrough import ActionStop

    c = Conversation()
    c.slots.update(service_id="guide.chronic-disease-recognition", last_answer_id="guide.chronic-disease-recognition")
    reply = await c.say(ActionStop(), "认定完了是不是长期有效", "stop", confidence=0.45)
    entry_id, _ = answered(reply)
    assert store.get(entry_id) is not None
    assert entry_id == "guide.chronic-disease-recognition" or store.get(entry_id).guide == (
        "guide.chronic-disease-recognition"
    )


async def test_out_of_scope_naming_a_service_is_answered(store: KnowledgeBase) -> None:
    text = "我家电动车想挂个牌照要准备啥"
    ebike = guide(store, "guide.e-bike-registration")
    reply = await Conversation().say(
        ActionFallback(), text, "out_of_scope", [entity("service", ebike.title), entity("element", "materials")]
    )
    assert answered(reply) == (ebike.id, "materials")


@pytest.mark.parametrize("text", ["987654321", "。。。", "??"])
async def test_digits_or_punctuation_alone_are_not_understood(store: KnowledgeBase, text: str) -> None:
    reply = await Conversation().say(ActionSmallTalk(), text, "goodbye", confidence=0.8)
    assert "没听明白" in reply.text and "再见" not in reply.text


async def test_a_question_naming_one_of_the_choices_starts_the_walkthrough_asked_for(store: KnowledgeBase) -> None:
    rent = guide(store, "guide.housing-fund-withdrawal-rent")
    c = Conversation()
    clarifying(c, ["guide.housing-fund-withdrawal-purchase", rent.id], then="walkthrough")
    text = "我是租房子住的那种"
    reply = await c.say(ActionAnswer(), text, "ask_service", [entity("service", rent.title)])
    assert reply.payload("walkthrough")["step"] == 1 and c.slots["walkthrough_id"] == rent.id


async def test_a_short_follow_up_tied_between_services_stays_with_the_one_discussed(store: KnowledgeBase) -> None:
    # "贷款" alone fits 创业担保贷款 a little better than 公积金贷款; after 公积金贷款 it is that one.
    c = Conversation()
    c.slots.update(service_id="guide.housing-fund-loan", recent_services=["guide.housing-fund-loan"])
    reply = await ask(c, "贷款要准备啥", element="materials")
    assert answered(reply) == ("guide.housing-fund-loan", "materials")


async def test_a_place_named_in_a_question_that_asks_for_no_centre_is_answered(store: KnowledgeBase) -> None:
    text = "咱济阳能一块办的一件事都有哪些"
    reply = await Conversation().say(ActionNearestCenter(), text, "ask_nearest_center", [entity("place", "济阳", text)])
    assert answered(reply)[0] == "qa.general.one-thing-list"


def test_what_to_bring_is_asked_by_generic_words_only_when_nothing_else_is_named() -> None:
    from actions.texts import detect_element

    assert detect_element("办这个要啥") == "materials"
    assert detect_element("需要什么条件") == "conditions"
    assert detect_element("要什么钱") == "fee"


async def test_a_service_the_nlu_read_from_a_partial_word_yields_to_a_clearly_better_hit(store: KnowledgeBase) -> None:
    # "开公司" made the NLU name 企业设立登记; the question is about the 一件事 bundle.
    text = "开公司一件事都包括啥"
    company = guide(store, "guide.company-establishment-registration")
    found = {"entity": "service", "value": company.title, "start": 0, "end": 3}
    reply = await Conversation().say(ActionAnswer(), text, "ask_service", [found])
    assert answered(reply)[0] == "bundle.business-startup"
    # Named by its own title, the NLU's service is kept.
    reply = await Conversation().say(ActionAnswer(), company.title, "ask_service", [entity("service", company.title)])
    assert answered(reply)[0] == company.id


async def test_a_question_ending_with_an_element_cue_asks_for_that_element(store: KnowledgeBase) -> None:
    reply = await Conversation().say(ActionAnswer(), "想去办结婚登记，得带些啥", "ask_service")
    assert answered(reply) == ("guide.marriage-registration", "materials")


async def test_who_can_apply_is_answered_with_the_conditions(store: KnowledgeBase) -> None:
    c = Conversation()
    c.slots.update(service_id=INDIVIDUAL)
    reply = await ask(c, "哪些人可以办", element="audience")
    assert answered(reply) == (INDIVIDUAL, "conditions")
    reply = await ask(c, "服务对象是谁", element="audience")
    assert answered(reply) == (INDIVIDUAL, "audience")
