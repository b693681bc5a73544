"""跨域通办: where else a guide can be done (全国 / 省内 / 济南都市圈 / 全市 / 点对点) and how,
told to a citizen, and whether a place they name is covered.

A guide's `cross_region` (knowledge_base.models.CrossRegion) lists its scopes; a guide without any
is done in 济阳 only (or online, when it has an online entry: that works from anywhere).  The
places below are facts about China's administrative map, not about any guide: which province or
city a name is, and whether it lies in 济南, the 济南都市圈 or 山东.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .models import CrossRegion, Guide

# What each way means for the citizen, in one clause.
WAYS = {
    "全程网办": "在网上提交，不用跑窗口",
    "异地窗口": "在当地的办理窗口直接办",
    "代收代办": "当地窗口收材料，转回济阳办理，结果邮寄或就近领取",
    "多地联办": "两地部门联动，在一地提交就行",
}
SCOPE_REACH = {
    "全国通办": "全国各地",
    "省内通办": "山东省内各市",
    "济南都市圈通办": "济南都市圈（济南、淄博、泰安、聊城、德州、滨州、东营）",
    "全市通办": "济南市内各区县",
}

# 济南's districts and counties, the other cities of the 济南都市圈, the rest of 山东.
JINAN = ("济南", "历下", "市中区", "槐荫", "天桥", "历城", "长清", "章丘", "济阳", "莱芜", "钢城", "平阴", "商河")
JINAN_METRO = ("淄博", "泰安", "聊城", "德州", "滨州", "东营")
SHANDONG = ("青岛", "枣庄", "烟台", "潍坊", "济宁", "威海", "日照", "临沂", "菏泽", "山东")
# Provinces and big cities outside 山东 a citizen names when they work or live there.
PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
    "福建", "江西", "河南", "湖北", "湖南", "广东", "广西", "海南", "四川", "贵州", "云南", "西藏", "陕西",
    "甘肃", "青海", "宁夏", "新疆", "香港", "澳门", "台湾",
)  # fmt: skip
CITIES = {
    "广州": "广东", "深圳": "广东", "东莞": "广东", "佛山": "广东", "珠海": "广东", "杭州": "浙江", "宁波": "浙江",
    "温州": "浙江", "义乌": "浙江", "南京": "江苏", "苏州": "江苏", "无锡": "江苏", "昆山": "江苏", "徐州": "江苏",
    "常州": "江苏", "武汉": "湖北", "成都": "四川", "西安": "陕西", "郑州": "河南", "石家庄": "河北", "保定": "河北",
    "唐山": "河北", "廊坊": "河北", "沧州": "河北", "沈阳": "辽宁", "大连": "辽宁", "哈尔滨": "黑龙江",
    "长春": "吉林", "合肥": "安徽", "福州": "福建", "厦门": "福建", "南昌": "江西", "长沙": "湖南", "南宁": "广西",
    "海口": "海南", "三亚": "海南", "昆明": "云南", "贵阳": "贵州", "兰州": "甘肃", "西宁": "青海", "银川": "宁夏",
    "乌鲁木齐": "新疆", "呼和浩特": "内蒙古", "包头": "内蒙古", "太原": "山西", "拉萨": "西藏", "雄安": "河北",
}  # fmt: skip

Level = Literal["本区", "济南市内", "济南都市圈", "山东省内", "外省"]


@dataclass(frozen=True)
class Place:
    name: str  # as the citizen said it
    level: Level
    province: str  # 山东 for places in the province


def place_in(text: str) -> Place | None:
    """The first place outside 济阳 the text names (the longest name at the earliest position)."""
    found: list[tuple[int, int, Place]] = []

    def add(name: str, level: Level, province: str) -> None:
        at = text.find(name)
        if at >= 0:
            found.append((at, -len(name), Place(name, level, province)))

    for name in JINAN:
        add(name, "本区" if name == "济阳" else "济南市内", "山东")
    for name in JINAN_METRO:
        add(name, "济南都市圈", "山东")
    for name in SHANDONG:
        add(name, "山东省内", "山东")
    for name in PROVINCES:
        add(name, "外省", name)
    for name, province in CITIES.items():
        add(name, "外省", province)
    outside = [f for f in found if f[2].level != "本区"]
    if not outside:
        return None
    return min(outside, key=lambda f: (f[0], f[1]))[2]


def _names() -> list[str]:
    return [n for n in (*JINAN, *JINAN_METRO, *SHANDONG, *PROVINCES, *CITIES) if n != "济阳"]


def without_places(text: str) -> str:
    """The text with every place outside 济阳 it names cut out (longest names first)."""
    for name in sorted(_names(), key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def covers(scope: CrossRegion, place: Place) -> bool:
    """Whether one 通办 scope reaches the place."""
    if scope.scope == "全国通办":
        return True
    if scope.scope == "点对点通办":
        return place.name in scope.regions or place.province in scope.regions
    if scope.scope == "省内通办":
        return place.province == "山东"
    if scope.scope == "济南都市圈通办":
        return place.level in ("济南市内", "济南都市圈")
    return place.level == "济南市内"  # 全市通办


def describe(scope: CrossRegion) -> str:
    """One line: how far the scope reaches, the ways, where to go, the note."""
    reach = "、".join(scope.regions) if scope.scope == "点对点通办" else SCOPE_REACH[scope.scope]
    ways = "；".join(f"{way}（{WAYS[way]}）" for way in scope.ways)
    line = f"{scope.scope}：{reach}可办。办理方式：{ways}"
    if scope.where:
        line += f"。办理地点：{scope.where}"
    if scope.note:
        line += f"。{scope.note}"
    return line + "。"


def render(guide: Guide) -> str:
    """The 跨域通办 element of a guide: its scopes, or that it is done in 济阳 (and online)."""
    if guide.cross_region:
        return "\n".join(f"{i}. {describe(s)}" for i, s in enumerate(guide.cross_region, start=1))
    text = f"暂未列入跨域通办事项，需要到办理地点办理：{guide.location.hall}"
    if guide.online is not None:
        text += f"；也可以在{guide.online.platform}网上申请（{guide.online.entry}），在外地也能提交"
    return text + "。"


def verdict(guide: Guide, place: Place) -> str:
    """The first line of the answer when the citizen named where they are."""
    reaching = [s for s in guide.cross_region if covers(s, place)]
    if reaching:
        return f"在{place.name}可以办：《{guide.title}》属于{reaching[0].scope}事项。"
    if guide.online is not None:
        return f"《{guide.title}》在{place.name}的窗口办不了，但可以网上申请，不用回济阳。"
    if guide.cross_region:
        scopes = "、".join(s.scope for s in guide.cross_region)
        return f"《{guide.title}》只在{scopes}范围内通办，{place.name}不在范围里，需要回济阳或委托他人办理。"
    return f"《{guide.title}》暂不能在{place.name}办理，需要回济阳或委托他人办理。"
