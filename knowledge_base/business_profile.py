"""A business's profile for 惠企政策 matching, and reading it from what the business writes.

"俺们是济阳的一家小型食品加工厂，成立三年了，纳税信用A级" gives industry 食品加工, size 小型, three
years since registration, place 济阳区 and tax-credit grade A.  Every fact is optional: a profile
is what the business has said so far in this conversation, nothing else (it is kept in the
conversation's slots only, never stored on its own: docs/programme.md).

Pure functions of the text (and of today's date, for "2021年成立"): no I/O, unit-tested.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .models import INDUSTRIES, PLACES, QUALIFICATIONS

# Facts a profile can hold, in the order the assistant asks for missing ones when they tie.
FACTS = ("industry", "size", "years", "place", "tax_credit", "good_credit", "qualifications")
FACT_LABELS = {
    "industry": "行业",
    "size": "企业规模",
    "years": "成立年限",
    "place": "注册地",
    "tax_credit": "纳税信用等级",
    "good_credit": "信用记录",
    "qualifications": "资质",
}


@dataclass(frozen=True)
class Profile:
    industry: str | None = None  # one of models.INDUSTRIES
    # The sizes the business may be: one, or two for "小微" (小型 or 微型; the standard depends on
    # the industry and the business rarely knows which).
    sizes: tuple[str, ...] = ()
    years: float | None = None  # since registration
    place: str | None = None  # one of models.PLACES, the narrowest said
    tax_credit: str | None = None  # A / B / M / C / D
    good_credit: bool | None = None  # no serious dishonesty record, not on the abnormal-operation list
    qualifications: frozenset[str] = field(default_factory=frozenset)  # it has these
    lacks: frozenset[str] = field(default_factory=frozenset)  # it said it has not these

    def merged(self, newer: Profile) -> Profile:
        """This profile with what was said later: a newer fact replaces an older one."""
        changes: dict[str, Any] = {}
        for name in ("industry", "years", "place", "tax_credit", "good_credit"):
            value = getattr(newer, name)
            if value is not None:
                changes[name] = value
        if newer.sizes:
            changes["sizes"] = newer.sizes
        has = (self.qualifications - newer.lacks) | newer.qualifications
        lacks = (self.lacks - newer.qualifications) | newer.lacks
        return replace(self, **changes, qualifications=frozenset(has), lacks=frozenset(lacks))

    def known(self) -> list[str]:
        """The facts this profile holds, in FACTS order."""
        out = []
        for name in FACTS:
            if name == "qualifications":
                if self.qualifications or self.lacks:
                    out.append(name)
            elif name == "size":
                if self.sizes:
                    out.append(name)
            elif getattr(self, name) is not None:
                out.append(name)
        return out

    @property
    def empty(self) -> bool:
        return not self.known()

    def describe(self) -> str:
        """ "济阳区·食品加工·小型·成立3年·纳税信用A级" — what the assistant understood."""
        parts = []
        if self.place:
            parts.append(self.place)
        if self.industry:
            parts.append(self.industry)
        if self.sizes:
            parts.append("或".join(self.sizes) + "企业")
        if self.years is not None:
            parts.append("新成立" if self.years < 1 else f"成立{_years_text(self.years)}年")
        if self.tax_credit:
            parts.append(f"纳税信用{self.tax_credit}级")
        if self.good_credit is not None:
            parts.append("无失信记录" if self.good_credit else "有失信或经营异常记录")
        parts.extend(sorted(self.qualifications))
        parts.extend(f"非{q}" for q in sorted(self.lacks))
        return "·".join(parts)

    # -- the conversation's slot -------------------------------------------------------------
    def to_slot(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("industry", "years", "place", "tax_credit", "good_credit"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.sizes:
            out["sizes"] = list(self.sizes)
        if self.qualifications:
            out["qualifications"] = sorted(self.qualifications)
        if self.lacks:
            out["lacks"] = sorted(self.lacks)
        return out

    @classmethod
    def from_slot(cls, value: Any) -> Profile:
        """The profile a slot holds; anything unreadable in it is left out."""
        if not isinstance(value, dict):
            return cls()
        sizes = tuple(s for s in value.get("sizes") or () if s in ("微型", "小型", "中型", "大型"))
        years = value.get("years")
        return cls(
            industry=value.get("industry") if value.get("industry") in INDUSTRIES else None,
            sizes=sizes,
            years=float(years) if isinstance(years, (int, float)) and not isinstance(years, bool) else None,
            place=value.get("place") if value.get("place") in PLACES else None,
            tax_credit=value.get("tax_credit") if value.get("tax_credit") in ("A", "B", "M", "C", "D") else None,
            good_credit=value.get("good_credit") if isinstance(value.get("good_credit"), bool) else None,
            qualifications=frozenset(q for q in value.get("qualifications") or () if q in QUALIFICATIONS),
            lacks=frozenset(q for q in value.get("lacks") or () if q in QUALIFICATIONS),
        )


def _years_text(years: float) -> str:
    return str(int(years)) if float(years).is_integer() else f"{years:g}"


# -- reading a profile from text ------------------------------------------------------------------

# Words for an industry, the more specific industries first (a 食品厂 is 食品加工, not just 制造业).
INDUSTRY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (industry, tuple(words.split()))
    for industry, words in (
        ("食品加工", "食品 面粉 挂面 面条 肉制品 熟食 乳制品 奶制品 调味品 酱菜 糕点 饮料 酿酒 酒厂 豆制品"),
        ("农副产品加工", "农产品加工 农副产品 粮油加工 果蔬加工 饲料 榨油"),
        ("农业", "种植 养殖 合作社 家庭农场 农业 大棚 种地 种菜 养鸡 养猪 养牛 果园 畜牧"),
        ("信息技术", "软件 互联网 信息技术 网络科技 计算机 数据服务 电子信息"),
        ("科技服务", "研发 技术服务 检验检测 检测 技术咨询"),
        ("餐饮住宿", "饭店 餐馆 饭馆 餐饮 酒店 宾馆 小吃 快餐 烧烤 民宿 旅馆"),
        ("文化旅游", "旅游 农家乐 景区 文创 旅行社 文旅"),
        ("交通物流", "物流 运输 快递 货运 仓储"),
        ("建筑业", "建筑 装修 施工 工程队"),
        ("批发零售", "超市 商店 批发 零售 商贸 门市 便利店 电商 网店 卖货"),
        ("制造业", "制造 加工厂 工厂 机械 化工 纺织 服装厂 五金 零部件 加工 生产"),
    )
)
# "厂" alone (俺们厂) is manufacturing, but only when no other industry word matched.
FACTORY = re.compile(r"[^\s,，。]{0,6}厂")

# Sizes: "小微" may be either; the plain words last ("小企业", "小公司").
SIZE_WORDS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"小微"), ("小型", "微型")),
    (re.compile(r"微型|微企|微小企业"), ("微型",)),
    (re.compile(r"中小"), ("中型", "小型")),
    (re.compile(r"小型|小企业|小公司|小厂|规模不大|规模小"), ("小型",)),
    (re.compile(r"中型|中等规模|中等企业"), ("中型",)),
    (re.compile(r"大型|大企业|大公司"), ("大型",)),
)
# "中小" inside 科技型中小企业 / 专精特新中小企业 names a qualification, not the size.
QUALIFICATION_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("高新技术企业", re.compile(r"高新技术企业|高新企业|高企")),
    ("科技型中小企业", re.compile(r"科技型中小企业|科技型企业|科技型")),
    ("专精特新中小企业", re.compile(r"专精特新(?:中小企业|企业)?")),
    ("规模以上企业", re.compile(r"规模以上|规上企业|规上")),
)
NEGATION = re.compile(r"(不是|不算|没评上|没有评上|还没评|未评上|没有认定|还没认定|未认定|非)$")

# Places: the narrowest wins ("济南市济阳区" is 济阳区).  济阳's streets and towns are 济阳区.
JIYANG_PLACES = ("济阳", "崔寨", "孙耿", "回河", "曲堤", "仁风", "垛石", "太平街道", "新市镇", "济北", "姜集")
OTHER_PLACES = {name: re.sub(r"[区市省]$", "", name) for name in PLACES if name not in ("全国", "济阳区")}

CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
NUMBER = r"(\d+(?:\.\d+)?|[一二两俩三四五六七八九十]+)"
YEARS_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        rf"(?:成立|注册|开业|开了|干了|办了|经营|营业|做了|开办)(?:了|有|都|快|已经|刚)*(?:满|有|差不多|大概|将近|快)?{NUMBER}(年半|年|多年)"
    ),
    re.compile(rf"{NUMBER}(年半|年|多年)(?=了|的|啦|老)"),
)
YEAR_FOUNDED = re.compile(r"((?:19|20)\d{2})\s*年(?:成立|注册|开业|办的|开的)")
NEW_BUSINESS = re.compile(r"刚成立|新成立|刚注册|新注册|刚开业|才成立|成立不到一年|不到一年|刚开张|今年成立|今年注册")
LAST_YEAR = re.compile(r"去年(?:成立|注册|开业|开的|办的)")
YEAR_BEFORE_LAST = re.compile(r"前年(?:成立|注册|开业|开的|办的)")

TAX_CREDIT = (
    re.compile(
        r"(?:纳税|税务|税收)?信用(?:等级|评级|级别)?(?:是|为|评了|评的|评为|评上|有)?\s*([ABMCDabmcd])\s*(?:级|类)?"
    ),
    re.compile(r"([ABMCDabmcd])\s*级纳税人"),
    re.compile(r"纳税(?:评级|等级)(?:是|为)?\s*([ABMCDabmcd])"),
)
CREDIT_BAD = re.compile(
    r"(?<!没)(?<!没有)(?<!未)(?<!不)(?:被)?(?:列入|上了|进了)(?:严重)?(?:失信|黑名单|经营异常)|有失信|失信被执行|有不良记录"
)
CREDIT_GOOD = re.compile(
    r"没有?失信|无失信|没有?不良记录|无不良记录|信用良好|信用很好|信用好|没上过?黑名单|没有?被列入|没进过?黑名单|没有经营异常|信用没问题"
)


def chinese_number(text: str) -> float | None:
    """ "3", "三", "十二", "两" → a number; None when it is not one."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not text or any(c not in CN_DIGITS and c != "十" for c in text):
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        return float((CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(ones, 0) if ones else 0))
    if len(text) == 1:
        return float(CN_DIGITS[text])
    return None


def read_industry(text: str) -> str | None:
    for industry, words in INDUSTRY_WORDS:
        if any(w in text for w in words):
            return industry
    if FACTORY.search(text):
        return "制造业"
    return None


def read_sizes(text: str) -> tuple[str, ...]:
    stripped = text
    for _, pattern in QUALIFICATION_WORDS:
        stripped = pattern.sub("", stripped)
    for pattern, sizes in SIZE_WORDS:
        if pattern.search(stripped):
            return sizes
    return ()


def read_years(text: str, today: datetime.date) -> float | None:
    if NEW_BUSINESS.search(text):
        return 0.5
    if LAST_YEAR.search(text):
        return 1.0
    if YEAR_BEFORE_LAST.search(text):
        return 2.0
    founded = YEAR_FOUNDED.search(text)
    if founded:
        return float(max(today.year - int(founded.group(1)), 0))
    for pattern in YEARS_PATTERNS:
        for found in pattern.finditer(text):
            number = chinese_number(found.group(1))
            if number is None or number > 100:
                continue
            return number + (0.5 if found.group(2) == "年半" else 0.0)
    return None


def _depth(place: str) -> int:
    depth = 0
    parent = PLACES.get(place)
    while parent is not None:
        depth, parent = depth + 1, PLACES.get(parent)
    return depth


def read_place(text: str) -> str | None:
    """The narrowest place named ("山东济南济阳" is 济阳区)."""
    if any(p in text for p in JIYANG_PLACES):
        return "济阳区"
    found = [name for name, short in OTHER_PLACES.items() if name in text or (short in text and short != "市中")]
    if found:
        return max(found, key=_depth)
    if "外省" in text or "省外" in text:
        return "全国"
    return None


def read_tax_credit(text: str) -> str | None:
    for pattern in TAX_CREDIT:
        found = pattern.search(text)
        if found:
            return found.group(1).upper()
    return None


def read_credit(text: str) -> bool | None:
    if CREDIT_GOOD.search(text):
        return True
    if CREDIT_BAD.search(text):
        return False
    return None


def read_qualifications(text: str) -> tuple[frozenset[str], frozenset[str]]:
    has: set[str] = set()
    lacks: set[str] = set()
    for name, pattern in QUALIFICATION_WORDS:
        for found in pattern.finditer(text):
            before = text[max(0, found.start() - 4) : found.start()]
            (lacks if NEGATION.search(before) else has).add(name)
    return frozenset(has - lacks), frozenset(lacks)


def read_profile(text: str, today: datetime.date | None = None) -> Profile:
    """Every fact about the business this message states (none: an empty profile)."""
    today = today or datetime.date.today()
    has, lacks = read_qualifications(text)
    return Profile(
        industry=read_industry(text),
        sizes=read_sizes(text),
        years=read_years(text, today),
        place=read_place(text),
        tax_credit=read_tax_credit(text),
        good_credit=read_credit(text),
        qualifications=has,
        lacks=lacks,
    )
