"""A second retrieval corpus in the shape of a real exported government Q&A knowledge base (SAMPLE).

Why: a real 2,300-entry export retrieved at Recall@1 ~0.6 where the curated sample gives ~0.88
(issue #11, failure class 9).  Real exports differ from the curated sample in three ways this
corpus copies: the title is a few staff keywords ("公积金提取 租房 材料"), the answer is long
official prose (办理依据, 条件, 材料, 流程, 时限, 咨询电话), and there are no similar questions
and no keywords.  They are also dense in near neighbours: the same matter under many aspects,
and the same aspect for many sibling matters ("公积金提取 租房" / "购房" / "离职" …).

How it is built (deterministic, nothing downloaded): `export/matters.yml` holds hand-written
material — per domain its department, phone, legal basis, hall and online platform; per matter
(130 of them in 15 domains) its staff keywords, 事项名称, conditions, materials, time limit and one
specific remark.  Every matter gets one entry per ASPECT (an overview that holds everything, and
15 aspect entries: 条件, 材料, 流程 … 结果领取), so 2,080 entries.  Each answer is composed from
the matter's facts and official sentence fragments written here (FRAGMENTS), the variant of
each fragment and of the title's aspect word chosen by a random generator seeded with the entry
id — so the corpus is the same in every run and on every machine.

Entry ids read `qa.export.<domain short>.<matter slug>.<aspect>`, e.g. `qa.export.gjj.rent.materials`:
the question files refer to them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge_base.models import QA

HERE = Path(__file__).parent / "export"
MATTERS = HERE / "matters.yml"

# aspect key -> the staff words that end the title (one is picked per entry)
ASPECTS: dict[str, tuple[str, ...]] = {
    "guide": ("",),
    "conditions": ("条件", "受理条件", "申请条件"),
    "materials": ("材料", "所需材料", "要件"),
    "process": ("流程", "办理流程", "程序"),
    "time": ("时限", "办理时限", "办结时间"),
    "fee": ("收费", "收费标准", "费用"),
    "place": ("地点", "办理地点", "窗口"),
    "online": ("网上办理", "网办", "线上"),
    "basis": ("依据", "政策依据", "法律依据"),
    "agent": ("代办", "委托办理", "委托"),
    "remote": ("异地", "异地办理", "跨省通办"),
    "progress": ("进度查询", "进度", "结果查询"),
    "phone": ("咨询电话", "电话", "咨询方式"),
    "audience": ("对象", "服务对象", "适用范围"),
    "notes": ("注意事项", "提示", "须知"),
    "result": ("结果领取", "领取", "送达"),
}

# Official sentence fragments; {name} etc. are the matter's and domain's facts.
FRAGMENTS: dict[str, tuple[str, ...]] = {
    "opening": (
        "根据{basis}等有关规定，现将{name}有关事项答复如下：",
        "依据{basis}，{name}按以下规定办理：",
        "按照{basis}的相关规定，关于{name}，说明如下：",
    ),
    "conditions": (
        "申请{name}应当符合下列条件：{conditions}。不符合上述条件的，窗口不予受理并一次性告知理由。",
        "{name}的受理条件为：{conditions}。申请人对照条件确认符合后再提出申请，可避免往返。",
        "办理{name}，申请人须满足以下条件：{conditions}。条件是否符合以经办机构审核认定为准。",
    ),
    "materials": (
        "申请{name}需提交以下材料：{materials}。以上材料除注明外均需提供原件，复印件由窗口留存。",
        "所需材料如下：{materials}。能够通过政务数据共享获取的材料，申请人无需重复提交。",
        "{name}申请材料清单：{materials}。材料不齐全的，窗口一次性告知需补正的全部内容。",
    ),
    "process": (
        "办理流程：申请人提交申请——窗口受理并核验材料——经办机构审核——作出办理决定——送达结果。",
        "基本流程为：申请、受理、审核、决定、办结五个环节；符合条件、材料齐全的当场受理。",
        "办理程序：1.申请人通过线上或窗口提出申请；2.工作人员对材料进行初审；3.经办机构审核办理；4.办结后通知申请人。",
    ),
    "time": (
        "承诺办理时限为{time}，自受理之日起计算，需要公示、鉴定或公告的时间不计算在内。",
        "办理时限：{time}。材料齐全、符合法定形式的，按承诺时限办结；需要补正的，自补正之日起重新计算。",
        "本事项法定时限以相关规定为准，承诺时限为{time}。",
    ),
    "fee": (
        "收费标准：{fee}。除此以外，任何单位和个人不得收取其他费用。",
        "关于费用：{fee}。收费项目和标准在办事窗口公示，接受社会监督。",
        "本事项{fee}。如遇收费政策调整，以最新公布的标准为准。",
    ),
    "place": (
        "办理地点：{hall}，地址{address}，办公时间{hours}。",
        "申请人可到{hall}办理（{address}），工作时间为{hours}。",
        "线下办理请前往{hall}，地址为{address}，受理时间{hours}；也可就近到镇（街道）便民服务中心咨询。",
    ),
    "online": (
        "网上办理渠道：{online}。申请人登录后选择“{name}”，按页面提示填写信息、上传材料并提交，办理结果可在线查看。",
        "本事项已实现网上办理，可通过{online}在线申请，实现全程网办、不见面审批。",
        "申请人可登录{online}，搜索“{name}”，实名认证后在线提交申请，无需到窗口。",
    ),
    "basis": (
        "设定依据：{basis}以及国家、省、市的相关配套规定。",
        "本事项的办理依据为{basis}，具体执行以现行有效的规定为准。",
        "{name}依据{basis}办理，政策如有调整，按新规定执行。",
    ),
    "agent": (
        "申请人本人不能到场的，可以委托他人代为办理，代办人需提供本人身份证和申请人签署的授权委托书，以及申请人的相关材料。",
        "可委托代办。委托代办的，除申请材料外，还需提交委托人与受托人的身份证件及书面委托书；法律规定须本人到场的除外。",
        "本事项支持委托办理：受托人持委托书、双方身份证件及全部申请材料到窗口办理，窗口核验后受理。",
    ),
    "remote": (
        "对于在外地的申请人，{name}已纳入“跨省通办”“全省通办”事项清单，可通过{online}或异地代收代办窗口提交申请，由本区经办机构审核办理。",
        "异地办理：申请人不在本区的，可通过全程网办或就近到当地政务服务中心“跨省通办”窗口申请，材料流转、结果邮寄，无需往返。",
        "申请人在外省市的，可先通过{online}提交，确需核验原件的，可邮寄材料或委托本地亲属代办。",
    ),
    "progress": (
        "办理进度可通过{online}“我的办件”查询，也可凭受理回执到窗口或拨打咨询电话查询。",
        "申请受理后，系统会以短信方式告知受理、办结等节点；申请人也可登录{online}输入受理编号查询办理进度。",
        "查询方式：一是登录{online}查看办件状态；二是拨打{phone}，提供姓名和身份证号码查询。",
    ),
    "phone": (
        "咨询电话：{dept} {phone}；也可拨打12345政务服务便民热线咨询。",
        "如有疑问，请在工作日拨打{phone}（{dept}）咨询，或拨打12345热线。",
        "咨询方式：工作时间拨打{dept}电话{phone}，或到{hall}现场咨询。",
    ),
    "audience": (
        "服务对象：{conditions}。",
        "本事项面向以下人员（单位）：{conditions}。其他情形请咨询经办机构。",
        "适用范围：{conditions}；具体以审核认定为准。",
    ),
    "notes": (
        "温馨提示：{note}。",
        "需要注意的是，{note}。申请人应如实提供材料，提供虚假材料的依法承担相应责任。",
        "特别提示：{note}；办理前建议先电话咨询或通过线上渠道预约。",
    ),
    "result": (
        "办理结果可选择窗口领取或免费邮寄送达；电子证照同步推送至{online}，可在线出示使用。",
        "办结后，申请人可凭受理回执到{hall}领取结果，也可在申请时选择邮政寄递送达。",
        "结果送达方式：窗口领取、邮寄送达或电子送达，申请时选定；委托他人领取的，需持委托书和身份证件。",
    ),
    "closing": (
        "如有疑问，可拨打{dept}咨询电话{phone}。",
        "具体政策以经办机构解释为准，咨询电话{phone}。",
        "更多信息请咨询{dept}（电话{phone}）或拨打12345政务服务便民热线。",
    ),
}

# The aspect entry's own fragments (after the opening), then the matter's remark and the closing.
ASPECT_BODY: dict[str, tuple[str, ...]] = {
    "conditions": ("conditions", "notes"),
    "materials": ("materials", "agent"),
    "process": ("process", "online", "time"),
    "time": ("time", "progress"),
    "fee": ("fee", "basis"),
    "place": ("place", "online"),
    "online": ("online", "progress"),
    "basis": ("basis", "conditions"),
    "agent": ("agent", "materials"),
    "remote": ("remote", "online"),
    "progress": ("progress", "time"),
    "phone": ("phone", "place"),
    "audience": ("audience", "conditions"),
    "notes": ("notes", "materials"),
    "result": ("result", "time"),
}
GUIDE_BODY = ("conditions", "materials", "process", "time", "fee", "place", "online", "notes")
GUIDE_LABELS = {
    "conditions": "【受理条件】",
    "materials": "【申请材料】",
    "process": "【办理流程】",
    "time": "【办理时限】",
    "fee": "【收费标准】",
    "place": "【办理地点】",
    "online": "【网上办理】",
    "notes": "【温馨提示】",
}
MIN_ANSWER = 260  # before the closing sentence


@dataclass(frozen=True)
class Matter:
    domain: str
    short: str
    slug: str
    keywords: str  # the title stem, as staff write it
    name: str  # 事项名称
    facts: dict[str, str]  # placeholders for the fragments


def _numbered(items: str) -> str:
    parts = [p.strip() for p in items.split("；") if p.strip()]
    return "；".join(f"{i}.{p}" for i, p in enumerate(parts, 1))


@lru_cache(maxsize=1)
def load_matters() -> tuple[Matter, ...]:
    data = yaml.safe_load(MATTERS.read_text(encoding="utf-8"))
    out = []
    for domain, block in data["domains"].items():
        for line in block["matters"]:
            cells = [c.strip() for c in line.split("|")]
            slug, keywords, name, conditions, materials, time, note = cells[:7]
            fee = cells[7] if len(cells) > 7 else "本事项不收取任何费用"
            facts = {
                "name": name,
                "conditions": conditions,
                "materials": _numbered(materials),
                "time": time,
                "note": note,
                "fee": fee,
                "basis": block["basis"],
                "dept": block["dept"],
                "phone": block["phone"],
                "hall": block["hall"],
                "online": block["online"],
                "address": data["address"],
                "hours": data["hours"],
            }
            out.append(Matter(domain, block["short"], slug, keywords, name, facts))
    return tuple(out)


def entry_id(matter: Matter, aspect: str) -> str:
    return f"qa.export.{matter.short}.{matter.slug}.{aspect}"


def _fragment(kind: str, matter: Matter, rng: random.Random) -> str:
    return rng.choice(FRAGMENTS[kind]).format(**matter.facts)


def _answer(matter: Matter, aspect: str, rng: random.Random) -> str:
    opening = _fragment("opening", matter, rng)
    if aspect == "guide":
        body = "\n".join(f"{GUIDE_LABELS[k]}{_fragment(k, matter, rng)}" for k in GUIDE_BODY)
        return f"{opening}\n【事项名称】{matter.name}\n{body}\n【咨询电话】{_fragment('phone', matter, rng)}"
    parts = [opening, *(_fragment(k, matter, rng) for k in ASPECT_BODY[aspect])]
    for extra in ("notes", "basis", "phone", "remote"):  # short ones get more boilerplate, as real answers have
        if len("".join(parts)) >= MIN_ANSWER:
            break
        if extra not in ASPECT_BODY[aspect]:
            parts.append(_fragment(extra, matter, rng))
    return "".join(parts) + _fragment("closing", matter, rng)


def _title(matter: Matter, aspect: str, rng: random.Random) -> str:
    word = rng.choice(ASPECTS[aspect])
    return f"{matter.keywords} {word}".strip()


def build_export_corpus() -> list[QA]:
    """Every matter x every aspect, as Q&A entries without similar questions or keywords."""
    entries = []
    for matter in load_matters():
        for aspect in ASPECTS:
            eid = entry_id(matter, aspect)
            rng = random.Random(eid)  # str seeds are hashed with sha512: stable across processes
            entries.append(
                QA(
                    id=eid,
                    domain=matter.domain,
                    question=_title(matter, aspect, rng),
                    similar=[],
                    answer=_answer(matter, aspect, rng),
                    department=matter.facts["dept"],
                )
            )
    return entries


def domains() -> dict[str, str]:
    """entry id -> domain, for checking the question files' labels."""
    return {e.id: e.domain for e in build_export_corpus()}
