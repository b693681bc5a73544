"""Entry models of the knowledge base: service guides, Q&A entries and service centres.

The field names follow the standard elements of a 办事指南 so that staff, the data files and the
assistant all speak about the same things.  Models are pydantic (v1, the version Rasa 3.6 pins) so
that a bad data file is rejected with the exact field that is wrong.
"""

from __future__ import annotations

import datetime
import re
from typing import Literal

from pydantic import BaseModel, Field, validator

ID_PATTERN = re.compile(r"^(guide|qa|center|bundle|terminal|policy)\.[a-z0-9]+(?:[-.][a-z0-9]+)*$")

# Element keys a citizen can ask about, with the Chinese label the assistant uses.
ELEMENT_LABELS: dict[str, str] = {
    "materials": "申请材料",
    "conditions": "受理条件",
    "process": "办理流程",
    "time_limit": "办理时限",
    "fee": "收费标准",
    "location": "办理地点",
    "phone": "咨询电话",
    "online": "网上办理",
    "legal_basis": "设定依据",
    "audience": "服务对象",
    "cross_region": "跨域通办",
}


# Whitespace that touches a CJK character or full-width punctuation is noise (YAML line folding
# turns a line break inside a Chinese sentence into a space).
_WIDE = r"[\u2018-\u201f\u2190-\u21ff\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
_CJK_SPACE = re.compile(rf"(?<={_WIDE})\s+|\s+(?={_WIDE})")


class _Model(BaseModel):
    class Config:
        extra = "forbid"  # a misspelt field is an error, not silently ignored
        anystr_strip_whitespace = True
        min_anystr_length = 1

    @validator("*", pre=True, each_item=True)
    def _tidy_text(cls, value: object) -> object:  # noqa: N805
        return _CJK_SPACE.sub("", value) if isinstance(value, str) else value


def _check_id(value: str, kind: str) -> str:
    if not ID_PATTERN.match(value) or not value.startswith(kind + "."):
        raise ValueError(f"id must look like '{kind}.some-name' (lowercase ascii, digits, '-' or '.')")
    return value


# How an 电子证照 stands in for a paper material (免证办).
EXEMPTION_WAYS = ("爱山东亮证", "数据共享免提交", "告知承诺")


class Exemption(_Model):
    """免证办: the 电子证照 (or promise) that replaces a paper material, and how it is presented."""

    licence: str  # 电子证照 name, e.g. 电子身份证, 电子营业执照; for 告知承诺 the promise signed instead
    way: Literal["爱山东亮证", "数据共享免提交", "告知承诺"]
    note: str | None = None


# 跨域通办: how far from 济阳 a matter can be done, and the ways it is done there.
CROSS_REGION_SCOPES = ("全国通办", "省内通办", "济南都市圈通办", "全市通办", "点对点通办")
CROSS_REGION_WAYS = ("全程网办", "异地窗口", "代收代办", "多地联办")


class CrossRegion(_Model):
    """跨域通办: one scope where the matter can be done away from 济阳, and how it is done there."""

    scope: Literal["全国通办", "省内通办", "济南都市圈通办", "全市通办", "点对点通办"]
    ways: list[Literal["全程网办", "异地窗口", "代收代办", "多地联办"]] = Field(..., min_items=1)
    regions: list[str] = []  # 点对点通办 only: the cities or provinces of the agreement
    where: str | None = None  # where to go or log in there (各地公安户政窗口, 爱山东APP …)
    note: str | None = None

    @validator("ways")
    def _ways(cls, value: list[str]) -> list[str]:  # noqa: N805
        if len(set(value)) != len(value):
            raise ValueError("a way is named twice")
        return value

    @validator("regions", always=True)
    def _regions(cls, value: list[str], values: dict[str, object]) -> list[str]:  # noqa: N805
        scope = values.get("scope")
        if scope == "点对点通办" and not value:
            raise ValueError("点对点通办 names the cities or provinces of the agreement")
        if scope is not None and scope != "点对点通办" and value:
            raise ValueError("only 点对点通办 names regions; the other scopes say how far they reach")
        return value


class Material(_Model):
    """One item of 申请材料."""

    name: str
    form: Literal["原件", "复印件", "原件及复印件", "电子材料", "现场填写"] = "原件"
    count: int = Field(1, ge=1, le=20)
    required: bool = True
    note: str | None = None
    exempt: Exemption | None = None  # 可免提交 when set

    @property
    def on_paper(self) -> bool:
        """Whether the citizen still hands this in on paper (not electronic, not replaced)."""
        return self.exempt is None and self.form != "电子材料"


class Step(_Model):
    """One step of 办理流程 (at the counter, as done by the department)."""

    title: str
    detail: str | None = None


class TimeLimit(_Model):
    legal: str  # 法定时限
    promised: str  # 承诺时限


class Fee(_Model):
    charged: bool
    standard: str  # e.g. "不收费" or the amount and unit
    basis: str | None = None  # the rule that sets the fee, when charged


class Location(_Model):
    hall: str  # 办理地点 (which hall / window)
    address: str
    hours: str
    phone: str


class OnlineService(_Model):
    """网办入口 with the citizen's own steps, one user action per step."""

    platform: Literal["爱山东APP", "山东政务服务网", "爱山东APP/山东政务服务网"]
    entry: str  # the path to the service inside the platform
    steps: list[str] = Field(..., min_items=2)
    url: str | None = None


class FAQ(_Model):
    question: str
    answer: str


class Guide(_Model):
    """A 办事指南 with its standard elements."""

    kind: Literal["guide"] = "guide"
    id: str
    domain: str = ""  # filled from the data file's header
    title: str  # 事项名称
    code: str  # 事项编码 (sample codes in the sample data)
    type: str  # 事项类型: 行政许可 / 公共服务 / 行政确认 / 行政给付 …
    department: str  # 实施机构
    authority: str | None = None  # 主管部门, when different
    audience: list[Literal["自然人", "法人", "其他组织"]] = Field(..., min_items=1)
    aliases: list[str] = []  # other names citizens use for this matter
    keywords: list[str] = []
    summary: str  # 白话版: what it is, who needs it, in plain words
    conditions: list[str] = Field(..., min_items=1)
    materials: list[Material] = Field(..., min_items=1)
    process: list[Step] = Field(..., min_items=1)
    time_limit: TimeLimit
    fee: Fee
    location: Location
    online: OnlineService | None = None
    legal_basis: list[str] = Field(..., min_items=1)
    faq: list[FAQ] = []
    bundle: str | None = None  # the 一件事一次办 bundle this matter belongs to
    cross_region: list[CrossRegion] = []  # 跨域通办: empty when it is done only in 济阳

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805 - pydantic validators take cls
        return _check_id(value, "guide")

    @validator("cross_region")
    def _cross_region(cls, value: list[CrossRegion]) -> list[CrossRegion]:  # noqa: N805
        scopes = [c.scope for c in value if c.scope != "点对点通办"]
        if len(set(scopes)) != len(scopes):
            raise ValueError("a 跨域通办 scope is named twice")
        return value


class QA(_Model):
    """A Q&A entry: a standard question, the citizens' own wordings of it, and the answer."""

    kind: Literal["qa"] = "qa"
    id: str
    domain: str = ""
    question: str
    # Citizens' wordings: at least 3 when given.  None at all is allowed, because real exported
    # knowledge bases have none (a title of staff keywords and a long answer; issue #11).
    similar: list[str] = []
    answer: str
    guide: str | None = None  # id of the related guide (or 一件事 bundle)
    keywords: list[str] = []
    department: str | None = None
    category: str | None = None

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805
        return _check_id(value, "qa")

    @validator("similar")
    def _similar(cls, value: list[str]) -> list[str]:  # noqa: N805
        if 0 < len(value) < 3:
            raise ValueError("give at least 3 similar questions, or none")
        return value


class Center(_Model):
    """A service hall for 就近办: the district centre or a street's/town's 便民服务中心."""

    kind: Literal["center"] = "center"
    id: str
    domain: str = "centers"
    name: str
    level: Literal["区级", "街道", "镇"]
    area: str  # the street or town it serves, e.g. 济阳街道
    places: list[str] = []  # villages, communities and landmarks in its area
    address: str
    hours: str
    phone: str
    services: list[str] = Field(..., min_items=1)

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805
        return _check_id(value, "center")


class Bundle(_Model):
    """一件事一次办: several guides done with one form, one set of materials, at one window.

    Only what the bundle itself decides is stored here; its elements (materials, steps, time
    limits, fees, departments) are computed from the member guides when it is read
    (knowledge_base/bundles.py), so a member's change shows in the bundle at once."""

    kind: Literal["bundle"] = "bundle"
    id: str
    domain: str = ""
    title: str  # 一件事名称, e.g. 出生一件事
    department: str  # 牵头部门 (the window that receives the one application)
    audience: list[Literal["自然人", "法人", "其他组织"]] = Field(..., min_items=1)
    aliases: list[str] = []
    keywords: list[str] = []
    summary: str  # 白话版: what is done together, for whom
    members: list[str] = Field(..., min_items=2)  # ids of the member guides, in the order they are done
    form: str  # the one application form that replaces the members' own forms
    # Materials one member produces for a later one (营业执照 for the tax step): not brought.
    produced: list[str] = []
    merged: list[str] = Field(..., min_items=1)  # what is merged: 一张表单, 一套材料, 一个窗口, 一次办结 …
    promised: str  # the bundle's own 承诺时限 for all members together
    location: Location  # the one window
    online: OnlineService | None = None  # the bundle's own entry in 爱山东 (one application online)
    faq: list[FAQ] = []

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805
        return _check_id(value, "bundle")

    @validator("members")
    def _members(cls, value: list[str]) -> list[str]:  # noqa: N805
        if len(set(value)) != len(value):
            raise ValueError("a member guide is named twice")
        for member in value:
            _check_id(member, "guide")
        return value


class Terminal(_Model):
    """自助办: a self-service terminal or a 24-hour 政务服务便利店, and the matters it serves."""

    kind: Literal["terminal"] = "terminal"
    id: str
    domain: str = "terminals"
    name: str
    type: Literal["24小时政务服务便利店", "自助服务区", "自助终端"]
    area: str  # the street or town, as a centre's `area` (就近办 finds it by the same places)
    place: str  # where exactly: 区政务服务中心一楼东侧, 某银行网点大堂 …
    address: str
    hours: str
    always_open: bool  # open 24 hours, every day
    guides: list[str] = Field(..., min_items=1)  # ids of the guides it serves
    services: list[str] = []  # what else it does (打印, 缴费 …), in words
    note: str | None = None

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805
        return _check_id(value, "terminal")

    @validator("guides")
    def _guides(cls, value: list[str]) -> list[str]:  # noqa: N805
        if len(set(value)) != len(value):
            raise ValueError("a guide is named twice")
        for guide_id in value:
            _check_id(guide_id, "guide")
        return value

    @validator("always_open")
    def _always_open(cls, value: bool, values: dict[str, object]) -> bool:  # noqa: N805
        hours = str(values.get("hours") or "")
        if value and "24" not in hours:
            raise ValueError("a terminal open 24 hours says so in its hours (24小时)")
        return value


# -- 惠企政策: policies matched to a business (knowledge_base/policies.py) ------------------------

POLICY_LEVELS = ("国家", "省", "市", "区")
ENTERPRISE_SIZES = ("微型", "小型", "中型", "大型")
TAX_CREDIT_GRADES = ("A", "B", "M", "C", "D")
# Industries a policy may name, each with the wider one it belongs to (a 食品加工 business is also
# 制造业, so a policy for 制造业 applies to it).  A fixed list: matching compares words exactly.
INDUSTRIES: dict[str, str | None] = {
    "制造业": None,
    "食品加工": "制造业",
    "农副产品加工": "制造业",
    "农业": None,
    "信息技术": None,
    "科技服务": None,
    "批发零售": None,
    "餐饮住宿": None,
    "文化旅游": None,
    "交通物流": None,
    "建筑业": None,
}
# Places a policy may be limited to, each with the wider one it lies in.
PLACES: dict[str, str | None] = {
    "全国": None,
    "山东省": "全国",
    "济南市": "山东省",
    "济阳区": "济南市",
    "历下区": "济南市",
    "市中区": "济南市",
    "槐荫区": "济南市",
    "天桥区": "济南市",
    "历城区": "济南市",
    "长清区": "济南市",
    "章丘区": "济南市",
    "莱芜区": "济南市",
    "钢城区": "济南市",
    "青岛市": "山东省",
    "德州市": "山东省",
    "滨州市": "山东省",
}
QUALIFICATIONS = ("高新技术企业", "科技型中小企业", "专精特新中小企业", "规模以上企业")


class PolicyCriteria(_Model):
    """What a business must be for a policy to apply; an empty list or None means 不限."""

    industries: list[Literal[tuple(INDUSTRIES)]] = []  # type: ignore[valid-type]
    sizes: list[Literal["微型", "小型", "中型", "大型"]] = []
    min_years: float | None = Field(None, ge=0, le=100)  # 成立满几年
    max_years: float | None = Field(None, ge=0, le=100)  # 成立不超过几年
    places: list[Literal[tuple(PLACES)]] = []  # type: ignore[valid-type]  # 注册地在其中之一（含下辖）
    tax_credit: list[Literal["A", "B", "M", "C", "D"]] = []  # 纳税信用等级
    good_credit: bool = False  # 未列入严重失信主体名单、经营异常名录
    qualifications: list[Literal[tuple(QUALIFICATIONS)]] = []  # type: ignore[valid-type]  # 都要具备

    @validator("max_years")
    def _years(cls, value: float | None, values: dict) -> float | None:  # noqa: N805
        low = values.get("min_years")
        if value is not None and low is not None and value < low:
            raise ValueError("成立不超过的年数不能小于成立满的年数")
        return value


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Policy(_Model):
    """A 惠企政策: who it is for (structured criteria a business profile is matched against), what
    it gives, how to get it, until when, and whether it is granted without applying (免申即享)."""

    kind: Literal["policy"] = "policy"
    id: str
    domain: str = "policies"
    title: str  # 政策名称
    department: str  # 兑现部门
    level: Literal["国家", "省", "市", "区"]
    aliases: list[str] = []
    summary: str  # 白话说明
    criteria: PolicyCriteria
    other_conditions: list[str] = []  # conditions no profile can tell: always "还需确认"
    benefit: str  # 扶持内容
    apply: str  # 申请方式 (for 免申即享: how the benefit arrives)
    materials: list[str] = []  # 申报材料
    deadline: str | None = None  # 截止日期 YYYY-MM-DD; none: 长期有效
    auto: bool = False  # 免申即享: granted to every business that qualifies, no application
    phone: str | None = None
    source: str  # 政策依据 (the sample data says it is a sample)

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805
        return _check_id(value, "policy")

    @validator("deadline")
    def _deadline(cls, value: str | None) -> str | None:  # noqa: N805
        if value is None:
            return value
        try:
            if DATE.match(value):
                datetime.date.fromisoformat(value)
                return value
        except ValueError:
            pass
        raise ValueError("截止日期应写成 2027-06-30 这样的日期")


Entry = Guide | QA | Center | Bundle | Terminal | Policy
ENTRY_TYPES: dict[str, type[_Model]] = {
    "guide": Guide,
    "qa": QA,
    "center": Center,
    "bundle": Bundle,
    "terminal": Terminal,
    "policy": Policy,
}
# Kinds kept out of the search index and its sentence vectors: a policy is matched to a business
# profile (knowledge_base/policies.py), never found by topic, so the rankings of the searched
# kinds stay as they were.
UNSEARCHED_KINDS = frozenset({"policy"})


def entry_title(entry: Entry) -> str:
    """The name a person sees for an entry."""
    if isinstance(entry, (Guide, Bundle, Policy)):
        return entry.title
    if isinstance(entry, QA):
        return entry.question
    return entry.name  # a centre or a terminal
