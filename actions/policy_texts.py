"""What the assistant says about 惠企政策: the ranked list, one policy's detail, the question for
missing facts.  Pure text building from knowledge_base.policies' matches (docs/programme.md)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from knowledge_base.business_profile import FACT_LABELS, Profile
from knowledge_base.models import Policy
from knowledge_base.policies import Match, Ranking, deadline_of

AUTO = "免申即享：无需申请，符合即享"
SAMPLE_NOTE = "（以上为示例政策数据，具体以部门正式发布为准）"
LEVEL_NAMES = {"国家": "国家级", "省": "省级", "市": "市级", "区": "区级"}

# How the assistant asks for each missing fact, with an example answer.
ASK_FACT = {
    "industry": "企业是做什么的（比如食品加工、物流、饭店、种植养殖）",
    "size": "企业规模：微型、小型、中型还是大型",
    "years": "企业成立几年了",
    "place": "企业注册在哪里（比如济阳区、济南其他区）",
    "tax_credit": "纳税信用等级（A、B、M、C、D）",
    "good_credit": "有没有被列入失信名单或经营异常名录",
    "qualifications": "是不是高新技术企业、科技型中小企业或专精特新企业",
}
ASK_INTRO = "可以帮您对照惠企政策。为了筛得准，先问您{count}个情况："
ASK_OUTRO = (
    "也可以一句话说全，比如“济阳的小型食品厂，成立三年，纳税信用A级”。"
    "您说的情况只在这次对话里用来匹配政策，不会另外保存。"
)
LIST_INTRO = "按您说的情况（{profile}），这{count}项惠企政策可能适用，最符合的在前："
LIST_INTRO_BLANK = "您还没说企业的情况，先列出适用面最广的{count}项惠企政策："
NONE_FOUND = (
    "按您说的情况（{profile}），示例政策库里暂时没有适用的惠企政策（{excluded}项条件不符）。"
    "可以换个情况再问，或转人工帮您查。"
)
FOLLOW_UPS = "想了解哪一项，可以问“第一个怎么申请”“那个啥时候截止”“第二个要啥材料”。"
MORE_FACTS = "如果再告诉我{facts}，可以筛得更准。"
EXCLUDED = "另有{count}项政策按您说的条件不符或已截止，没有列出。"
NOT_LISTED = "刚才列出的政策只有{count}项，您说的是第几个？"


def date_text(policy: Policy) -> str:
    deadline = deadline_of(policy)
    return f"{deadline.year}年{deadline.month}月{deadline.day}日" if deadline else "长期有效"


def deadline_line(policy: Policy, today: datetime.date) -> str:
    deadline = deadline_of(policy)
    if deadline is None:
        return "截止时间：长期有效（以部门公布为准）"
    if deadline < today:
        return f"截止时间：{date_text(policy)}，已经截止了"
    return f"截止时间：{date_text(policy)}（还有{(deadline - today).days}天）"


def heading(policy: Policy) -> str:
    return f"《{policy.title}》{LEVEL_NAMES[policy.level]}·{policy.department}"


def list_item(number: int, m: Match, today: datetime.date) -> str:
    lines = [f"{number}. {heading(m.policy)}", f"扶持内容：{m.policy.benefit}"]
    if m.met:
        lines.append("您已符合：" + "；".join(c.requirement for c in m.met))
    if m.to_check:
        lines.append("还需确认：" + "；".join(m.to_check))
    lines.append(AUTO if m.policy.auto else deadline_line(m.policy, today))
    return "\n".join(lines)


def list_intro(profile: Profile, count: int) -> str:
    if profile.empty:
        return LIST_INTRO_BLANK.format(count=count)
    return LIST_INTRO.format(profile=profile.describe(), count=count)


def list_outro(ranking: Ranking, listed: int, missing: Sequence[str]) -> str:
    parts = []
    if len(ranking.candidates) > listed:
        parts.append(f"还有{len(ranking.candidates) - listed}项可能适用的条件核对得更少，没有列出。")
    if ranking.excluded:
        parts.append(EXCLUDED.format(count=len(ranking.excluded)))
    if missing:
        parts.append(MORE_FACTS.format(facts="、".join(FACT_LABELS[f] for f in missing)))
    parts.append(FOLLOW_UPS)
    parts.append(SAMPLE_NOTE)
    return "\n".join(parts)


def ask_facts(facts: Sequence[str]) -> str:
    lines = [ASK_INTRO.format(count=len(facts))]
    lines += [f"{i}. {ASK_FACT[f]}？" for i, f in enumerate(facts, start=1)]
    lines.append(ASK_OUTRO)
    return "\n".join(lines)


# -- one policy ------------------------------------------------------------------------------------
# Elements of a policy a business asks about (the answer payload's `element`).
ELEMENTS = ("apply", "deadline", "benefit", "conditions", "materials", "phone")


def detail(m: Match, element: str | None, today: datetime.date) -> str:
    p = m.policy
    if element == "apply":
        if p.auto:
            text = f"《{p.title}》是免申即享政策，无需申请，符合即享。\n{p.apply}"
        else:
            text = f"《{p.title}》怎么申请：\n{p.apply}"
            if p.materials:
                text += "\n申报材料：" + "、".join(p.materials)
        return text + _phone(p) + "\n" + deadline_line(p, today)
    if element == "deadline":
        if p.auto:
            return f"《{p.title}》是免申即享政策，无需申请，符合即享，不用赶申报时间。\n{deadline_line(p, today)}"
        return f"《{p.title}》{deadline_line(p, today)}。\n申请方式：{p.apply}"
    if element == "benefit":
        return f"《{p.title}》扶持内容：{p.benefit}"
    if element == "materials":
        if p.auto:
            return f"《{p.title}》是免申即享政策，无需申请，不用准备申报材料。\n{p.apply}"
        if not p.materials:
            return f"《{p.title}》没有列出申报材料，按申请方式办理：{p.apply}" + _phone(p)
        lines = [f"《{p.title}》申报材料："] + [f"{i}. {x}" for i, x in enumerate(p.materials, start=1)]
        return "\n".join(lines) + _phone(p)
    if element == "phone":
        return f"《{p.title}》由{p.department}兑现。" + (_phone(p) or "具体可拨打12345政务服务便民热线咨询。")
    if element == "conditions":
        return conditions_text(m)
    lines = [heading(p), p.summary, f"扶持内容：{p.benefit}", conditions_text(m, titled=False)]
    lines.append(f"{AUTO}。{p.apply}" if p.auto else f"申请方式：{p.apply}")
    lines.append(deadline_line(p, today))
    lines.append(f"政策来源：{p.source}")
    return "\n".join(lines)


def conditions_text(m: Match, titled: bool = True) -> str:
    lines = [f"《{m.policy.title}》的享受条件，按您说的情况对照："] if titled else ["享受条件："]
    for c in m.checks:
        mark = {"met": "✓ 符合", "unknown": "？ 还需确认", "failed": "✗ 不符合"}[c.status]
        lines.append(f"{mark}：{c.requirement}")
    lines += [f"？ 还需确认：{x}" for x in m.policy.other_conditions]
    if len(lines) == 1:
        lines.append("不限行业、规模和地区。")
    return "\n".join(lines)


def _phone(p: Policy) -> str:
    return f"\n咨询电话：{p.phone}" if p.phone else ""
