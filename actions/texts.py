"""What the assistant says, in one place: fixed sentences (no facts in them) and the layout of
answers whose content comes from the knowledge base.  Every KB answer names its entry."""

from __future__ import annotations

import json
import re
from typing import Any

from knowledge_base.models import ELEMENT_LABELS, QA, Center, Entry, Guide, Terminal

from .privacy import shorten

HANDOFF_DONE = "已为您转接人工帮办，工作人员会尽快联系您，请稍候。"
HANDOFF_AGAIN = "已经在为您转接人工帮办了，您还在队列里，帮办人员接入后会在这里回复您，请稍候。"
STUCK = "别着急，"
COMPLAINT = "非常抱歉给您带来不好的体验。"
ASK_WHICH_SERVICE = "请问您想办理哪项业务？可以直接说事项名称，比如下面这些："
NOT_FOUND = "抱歉，知识库里暂时没有找到和“{query}”有关的内容。"
NOT_FOUND_BLANK = "抱歉，我没有看懂您的意思。"
NOT_UNDERSTOOD = "抱歉，我没听明白。"
ONLY_CHINESE = "您好，我目前只能看懂中文。"
CAPABILITIES = "我是济时办智能助手，可以帮您查济阳区的办事指南、要带的材料和办理地点，还能一步一步教您在网上办理。"
STILL_WAITING_FOR_HELPER = (
    "您还在人工帮办的队列里，帮办人员接入后会在这里回复您，请稍候。不需要人工了，可以点“继续问智能助手”。"
)
REPHRASE = "您可以换个说法，或者说出要办的事项名称。大家常问的有："
OFFER_HANDOFF = "抱歉，还是没能帮上您。需要为您转接人工帮办吗？"
OFFER_DECLINED = "好的。您可以换个说法再问我，或者随时说“转人工”。"
CLARIFY_MANY = "您想问的是下面哪一项？"
CLARIFY_ONE = "您想问的是《{title}》吗？"
CLARIFY_NONE_OF_THEM = "好的。"
ELEMENT_MISSING = "《{title}》的办事指南里没有{label}的说明。"
BUNDLE_HINT = "提示：{matters}可以作为《{bundle}》一起办（{merged}），不用分开跑。"
QA_HAS_NO_ELEMENTS = "“{title}”是一条常见问答，没有对应的办事指南。请说出您要办的事项名称，我再帮您查{label}。"
AFFIRM_NOTHING_PENDING = "好的。还有什么可以帮您？"
DENY_NOTHING_PENDING = "好的，有需要随时问我。"
STOPPED_NOTHING = "好的。还有什么可以帮您？"
THANKS_GOOD = "谢谢您的评价！还有什么可以帮您？"
THANKS_BAD = "抱歉没能帮到您。您可以换个说法再问，或者转人工帮办。"
GREETING = (
    "您好，我是济时办智能助手，可以帮您查办事指南、办理材料和地点，还能一步一步教您在网上办理。请问您想办什么事？"
)
WELCOME_BACK = "欢迎回来！上次您在网上办理《{title}》，进行到第{step}步/共{total}步。要接着办吗？"

# Walkthrough
WALK_HEADER = "网上办理《{title}》 第{step}步/共{total}步："
WALK_ENTRY = "办理入口：{entry}"
WALK_FIRST_ALREADY = "已经是第一步了。"
WALK_DONE = "全部{total}步都走完了，祝您办理顺利！如果遇到问题，随时说“卡住了”。"
WALK_NONE_ACTIVE = "现在没有正在进行的网上办理指引。告诉我要办的事项，比如“个体户网上怎么办”，我一步一步带您办。"
WALK_NO_ONLINE = "《{title}》的办事指南里没有网上办理的步骤，需要到窗口办理。"
WALK_PAUSED = "好的，已暂停《{title}》的网上办理指引（停在第{step}步）。以后说“继续上次的”就能接着办。"
WALK_ASK_SERVICE = "您想在网上办理哪项业务？请说出事项名称，比如："
WALK_STUCK = "已为您转接人工帮办，并告诉工作人员您在《{title}》第{step}步遇到了困难，他们会尽快联系您。"
NOTHING_TO_RESUME = "没有找到上次没办完的事项。请问您想办什么事？"
RESUME_SERVICE = "上次我们聊到《{title}》，您想继续了解哪方面？"

# Nearest centre
ASK_PLACE = "请问您在哪个街道或镇？点下面的名称，或者直接告诉我村、社区的名字。"
PLACE_UNKNOWN = "抱歉，没有找到“{place}”对应的便民服务中心。"
OWN_PLACE_NEAREST = "按您说的住处，离您最近的是："
OWN_PLACE_CENTER = "《{title}》可以在街道（镇）便民服务中心办理。按您说的住处，离您最近的是："
PLACE_GIVE_UP = "没能确定您所在的街道或镇。全区的事项都可以到区政务服务中心办理："
CENTER_SERVICES = "可办理："

# 自助办 (actions/self_service.py)
TERMINALS = "{what}自助办点（24小时开放的在前）："
TERMINALS_NEAR = "{what}自助办点，离{area}近的在前："
TERMINALS_ALWAYS_OPEN = "{what}24小时开放的自助办点："
TERMINAL_ASK_PLACE = "告诉我您在哪个街道或镇，我帮您找离您最近的。"
TERMINAL_SERVES = "可自助办理："
NO_TERMINAL = "暂时没有自助机能办《{title}》，需要到窗口办理或网上办理。"
NO_TERMINAL_AT_ALL = "知识库里还没有自助办终端的信息。"

BUTTON_HUMAN = {"title": "转人工", "payload": "/request_human"}
BUTTON_ONLINE = {"title": "网上怎么办", "payload": "/start_walkthrough"}
BUTTON_OTHER_ELEMENTS = {"title": "其他要素", "payload": "/ask_service"}
BUTTON_NEXT = {"title": "下一步", "payload": "/next_step"}
BUTTON_PREVIOUS = {"title": "上一步", "payload": "/previous_step"}
BUTTON_DONE = {"title": "完成", "payload": "/next_step"}
BUTTON_STUCK = {"title": "卡住了", "payload": "/stuck"}
BUTTON_STOP = {"title": "退出", "payload": "/stop"}
BUTTON_RESUME = {"title": "继续上次的", "payload": "/resume"}
BUTTON_YES_HANDOFF = {"title": "转接人工帮办", "payload": "/affirm"}
BUTTON_NO = {"title": "不用了", "payload": "/deny"}
BUTTON_NONE_OF_THEM = {"title": "都不是", "payload": "/deny"}
BUTTON_GOOD = {"title": "有帮助", "payload": "/rate_good"}
BUTTON_BAD = {"title": "没帮助", "payload": "/rate_bad"}

# Elements offered as buttons after an overview, most asked first.
OVERVIEW_ELEMENTS = ("materials", "conditions", "time_limit", "fee", "location")

# Words that ask for an element, for when the NLU found none and to tell a follow-up ("那要多少钱")
# from a new question: what is left after cutting them out names the service, if anything.
ELEMENT_CUES: dict[str, tuple[str, ...]] = {
    "materials": ("材料", "资料", "带什么", "带啥", "准备什么", "准备啥", "要什么证件", "证件", "手续"),
    # "哪些人能申请" asks who qualifies: the conditions, not the guide's 服务对象 ("自然人、法人").
    "conditions": ("条件", "资格", "符合什么", "能不能办", "谁能办", "哪些人", "谁可以", "谁能申请", "什么人"),
    "process": ("流程", "步骤", "程序", "环节"),
    "time_limit": ("多久", "几天", "多长时间", "多少天", "时限", "什么时候能拿", "多快"),
    "fee": ("多少钱", "收费", "费用", "要钱", "收钱", "花钱", "交钱", "免费", "贵不贵", "贵吗", "便宜", "钱"),
    "location": (
        "在哪里办",
        "在哪办",
        "在哪儿办",
        "去哪里办",
        "去哪办",
        "在哪",
        "哪里办",
        "地点",
        "地址",
        "窗口",
        "去哪",
    ),
    "phone": ("电话", "联系方式", "热线", "号码"),
    "online": ("网上", "线上", "手机上", "在线", "网办", "爱山东"),
    "legal_basis": ("依据", "法律", "法规", "规定"),
    "audience": ("服务对象", "适用对象"),
    # 跨域通办 (actions/crossregion.py tells these questions apart from others first).
    "cross_region": ("外地", "异地", "跨省", "外省", "省外", "通办", "在那边办", "在当地办"),
}


# "要啥" / "需要什么" ask for what to bring only when no other element is named ("要什么条件" asks
# for the conditions): a second tier, read after ELEMENT_CUES.
GENERIC_MATERIALS_CUES = ("需要什么", "需要啥", "要什么", "要啥", "得带", "带些", "拿什么", "拿啥", "备啥")


def detect_element(text: str) -> str | None:
    """The element a message asks about, by its longest cue word (None if no cue is present)."""
    best: tuple[int, str] | None = None
    for element, cues in ELEMENT_CUES.items():
        for cue in cues:
            if cue in text and (best is None or len(cue) > best[0]):
                best = (len(cue), element)
    if best is None and any(cue in text for cue in GENERIC_MATERIALS_CUES):
        return "materials"
    return best[1] if best else None


_TRAILING = re.compile(r"[\s？?。！!，,呢啊呀吧哈嘛啦]+$")
# "都得办啥手续" asks which procedures there are (a Q&A), not a guide's list of materials.
NOT_AT_THE_END = frozenset({"手续"})
MAX_CUE_TAIL_CHARS = 1  # "得花钱不" ends with its cue; "在哪登报" does not


def ends_with_element_cue(text: str) -> bool:
    """Whether the message ends by asking what to bring ("结婚登记带些啥"): the materials are then
    what is asked, even when the message also names the service.  Other elements at the end are
    often a Q&A's own question ("公司搬家了，多长时间内要变更地址？") and are left to the search."""
    body = _TRAILING.sub("", text)
    cues = (set(ELEMENT_CUES["materials"]) | set(GENERIC_MATERIALS_CUES)) - NOT_AT_THE_END
    return any(cue in body[-(len(cue) + MAX_CUE_TAIL_CHARS) :] for cue in cues if len(cue) >= 2)


# Elements a message may end by asking about while naming a matter a Q&A is about ("身份证过期了
# 要换新的，得花钱不"): the Q&A answers it only when it asks that too (`mentions_element`).
ENDING_ELEMENTS = ("materials", "fee", "time_limit", "location", "phone")


def ending_element(text: str) -> str | None:
    """The element (of ENDING_ELEMENTS) whose cue ends the message, else None."""
    body = _TRAILING.sub("", text)
    at_the_end = [
        (len(cue), element)
        for element in ENDING_ELEMENTS
        for cue in _cues(element) - NOT_AT_THE_END
        if len(cue) >= 2 and cue in body[-(len(cue) + MAX_CUE_TAIL_CHARS) :]
    ]
    return max(at_the_end)[1] if at_the_end else None


def _cues(element: str) -> set[str]:
    return set(ELEMENT_CUES[element]) | (set(GENERIC_MATERIALS_CUES) if element == "materials" else set())


def mentions_element(texts: list[str], element: str) -> bool:
    """Whether any of these texts (a Q&A's question and similar questions) asks about `element`."""
    return any(cue in text for text in texts for cue in _cues(element))


def strip_element_cues(text: str) -> str:
    all_cues = {c for cues in ELEMENT_CUES.values() for c in cues} | set(GENERIC_MATERIALS_CUES)
    for cue in sorted(all_cues, key=len, reverse=True):
        text = text.replace(cue, " ")
    return text


def button_element(element: str) -> dict[str, str]:
    return {"title": ELEMENT_LABELS[element], "payload": "/ask_element" + json.dumps({"element": element})}


def button_entry(entry_id: str, title: str) -> dict[str, str]:
    payload = json.dumps({"entry_id": entry_id}, ensure_ascii=False)
    return {"title": title, "payload": "/choose_entry" + payload}


def button_place(area: str) -> dict[str, str]:
    return {"title": area, "payload": "/ask_nearest_center" + json.dumps({"place": area}, ensure_ascii=False)}


def source_guide(guide: Guide) -> str:
    return f"依据：《{guide.title}》办事指南（{guide.department}）"


def source_qa(qa: QA) -> str:
    return f"依据：常见问答《{qa.question}》"


def source_center(center: Center) -> str:
    return f"依据：《{center.name}》服务网点信息"


def source_terminals(terminals: list[Terminal]) -> str:
    return "依据：" + "、".join(f"《{t.name}》" for t in terminals) + "自助终端信息"


def terminal_hours(terminal: Terminal) -> str:
    if terminal.always_open:
        return f"{terminal.name}：{terminal.hours}"
    return f"{terminal.name}：不是24小时的，开放时间 {terminal.hours}"


def terminal_answer(terminal: Terminal) -> str:
    hours = "24小时开放" if terminal.always_open else terminal.hours
    lines = [f"{terminal.name}（{hours}）", f"位置：{terminal.place}", f"地址：{terminal.address}"]
    return "\n".join([*lines, source_terminals([terminal])])


def guide_element(guide: Guide, element: str, content: str) -> str:
    return f"《{guide.title}》的{ELEMENT_LABELS[element]}：\n{content}\n{source_guide(guide)}"


def guide_overview(guide: Guide) -> str:
    return f"《{guide.title}》：{guide.summary}\n{source_guide(guide)}"


def qa_answer(qa: QA) -> str:
    return f"{qa.answer}\n{source_qa(qa)}"


def center_answer(center: Center, intro: str = "") -> str:
    lines = [intro] if intro else []
    lines += [
        f"{center.name}",
        f"地址：{center.address}",
        f"时间：{center.hours}",
        f"电话：{center.phone}",
        CENTER_SERVICES + "；".join(center.services),
        source_center(center),
    ]
    return "\n".join(lines)


def entry_answer(entry: Entry) -> str:
    """The answer an entry gives on its own: a Q&A's answer, a guide's overview, a centre's card."""
    if isinstance(entry, QA):
        return qa_answer(entry)
    if isinstance(entry, Guide):
        return guide_overview(entry)
    if isinstance(entry, Terminal):
        return terminal_answer(entry)
    return center_answer(entry)


def quote(text: str) -> str:
    """A citizen's words shown back to them: one short line."""
    return shorten(text, 20)


def buttons(*items: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [b for b in items if b]
