"""一件事一次办 bundles read as guides: their elements computed from the member guides.

A stored `Bundle` says only what the bundle decides (its members, its one form, its window, its
own time promise).  `compose` turns it and its members into a `BundleGuide`, a Guide whose
materials are the members' materials without repeats (each saying which matters it serves), whose
steps are one application followed by the members' departments working in parallel, and whose
fees, time limits, conditions and legal bases are the members'.  Because a BundleGuide is a
Guide, everything that answers about a guide (element follow-ups, clarification, walkthroughs)
answers about a bundle the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import validator

from .models import Bundle, Fee, Guide, Material, Step, TimeLimit, _check_id

# Form types ordered by how much they ask: the strongest one of a shared material is what to bring.
_FORM_STRENGTH = ["电子材料", "复印件", "原件", "原件及复印件", "现场填写"]
# A member's own application form, replaced by the bundle's one form.
_OWN_FORM = re.compile(r"(申请表|申请书|登记表|审批表|申报表|登记申请表)$")
_BRACKETED = re.compile(r"[（(][^）)]*[）)]")
# Words in front of a document's name that do not change which document it is.
_WHOSE = re.compile(r"^(本人|申请人|申请人本人)")


class BundleGuide(Guide):
    """A bundle as the assistant answers it (computed; never stored)."""

    kind: Literal["bundle"] = "bundle"  # type: ignore[assignment]
    member_guides: list[Guide]
    merged: list[str]
    produced: list[str]
    separate_materials: int  # how many materials the members ask for when done one by one

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805
        return _check_id(value, "bundle")

    @property
    def departments(self) -> list[str]:
        """The departments involved, the lead first."""
        return list(dict.fromkeys([self.department, *(m.department for m in self.member_guides)]))


def short(title: str) -> str:
    """A member's title without its bracketed part (what a material note names)."""
    return _BRACKETED.sub("", title).strip() or title


def material_key(name: str) -> str:
    """Which document a material is, whoever's list it is on ("本人居民身份证" = "居民身份证")."""
    return _WHOSE.sub("", _BRACKETED.sub("", "".join(name.split())))


def is_own_form(material: Material) -> bool:
    return material.form == "现场填写" or bool(_OWN_FORM.search(material_key(material.name)))


def merge_materials(bundle: Bundle, members: Sequence[Guide]) -> list[Material]:
    """The one form, then every other material once, saying which matters it is for."""
    replaced = [m.name for g in members for m in g.materials if is_own_form(m)]
    out = [
        Material(
            name=bundle.form,
            form="现场填写",
            note="一张表代替各事项的申请表" + (f"（{'、'.join(dict.fromkeys(replaced))}）" if replaced else ""),
        )
    ]
    shared: dict[str, tuple[Material, list[str]]] = {}
    produced = {material_key(name) for name in bundle.produced}
    for guide in members:
        for material in guide.materials:
            if is_own_form(material) or material_key(material.name) in produced:
                continue
            key = material_key(material.name)
            if key not in shared:
                shared[key] = (material, [])
            else:
                first, users = shared[key]
                shared[key] = (_stronger(first, material), users)
            users = shared[key][1]
            if short(guide.title) not in users:
                users.append(short(guide.title))
    for material, users in shared.values():
        use = f"用于{'、'.join(users)}" if len(users) < len(members) else "各事项共用，交一份"
        if 1 < len(users) < len(members):
            use += "，交一份"
        note = use + (f"；{material.note}" if material.note else "")
        out.append(material.copy(update={"note": note}))
    return out


def _stronger(a: Material, b: Material) -> Material:
    """The same document asked for twice: the stronger form, the larger count, required if any is."""
    form = max((a.form, b.form), key=_FORM_STRENGTH.index)
    # Replaced by an 电子证照 only when every member accepts it.
    exempt = a.exempt if a.exempt is not None and b.exempt is not None else None
    update = {"form": form, "count": max(a.count, b.count), "required": a.required or b.required, "exempt": exempt}
    return a.copy(update=update)


def _steps(bundle: Bundle, members: Sequence[Guide]) -> list[Step]:
    where = bundle.location.hall + ("或网上" if bundle.online else "")
    steps = [Step(title="一次申请", detail=f"填写《{bundle.form}》，在{where}一次提交一套材料")]
    for guide in members:
        title = f"{guide.department}办理《{short(guide.title)}》"
        steps.append(Step(title=title, detail=f"并联办理，{guide.time_limit.promised}"))
    steps.append(Step(title="结果一并告知", detail="各事项办结后统一告知结果，证照可到窗口领取或邮寄"))
    return steps


def _fee(members: Sequence[Guide]) -> Fee:
    charged = [g for g in members if g.fee.charged]
    if not charged:
        return Fee(charged=False, standard="不收费（各事项均不收费）")
    parts = [f"{short(g.title)}：{g.fee.standard}" for g in charged]
    rest = "；其余事项不收费" if len(charged) < len(members) else ""
    return Fee(charged=True, standard="；".join(parts) + rest)


def _time_limit(bundle: Bundle, members: Sequence[Guide]) -> TimeLimit:
    each = "；".join(f"{short(g.title)}：{g.time_limit.promised}" for g in members)
    legal = "；".join(f"{short(g.title)}：{g.time_limit.legal}" for g in members)
    return TimeLimit(legal=legal, promised=f"{bundle.promised}\n分开办时各事项的承诺：{each}")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def compose(bundle: Bundle, members: Sequence[Guide]) -> BundleGuide:
    """The bundle with its elements computed from `members` (the guides it names, in its order)."""
    if not members:
        raise ValueError(f"bundle {bundle.id} has none of its member guides")
    names = "、".join(f"《{short(g.title)}》" for g in members)
    audience = [a for a in ("自然人", "法人", "其他组织") if a in bundle.audience]
    separate = sum(len(g.materials) for g in members)
    materials = merge_materials(bundle, members)
    departments = _unique([bundle.department, *(g.department for g in members)])
    summary = (
        f"{bundle.summary}\n一起办的事项：{names}，涉及{len(departments)}个部门；"
        f"{'、'.join(bundle.merged)}，" + _fewer(separate, len(materials))
    )
    return BundleGuide(
        id=bundle.id,
        domain=bundle.domain,
        title=bundle.title,
        code="；".join(g.code for g in members),
        type="一件事一次办",
        department=bundle.department,
        audience=audience,
        aliases=bundle.aliases,
        keywords=bundle.keywords,
        summary=summary,
        conditions=[f"{short(g.title)}：{c}" for g in members for c in g.conditions],
        materials=materials,
        process=_steps(bundle, members),
        time_limit=_time_limit(bundle, members),
        fee=_fee(members),
        location=bundle.location,
        online=bundle.online,
        legal_basis=_unique(b for g in members for b in g.legal_basis),
        faq=bundle.faq,
        bundle=bundle.title,
        member_guides=list(members),
        merged=bundle.merged,
        produced=bundle.produced,
        separate_materials=separate,
    )


def _fewer(separate: int, together: int) -> str:
    if together < separate:
        return f"材料从分开办时的{separate}份减为{together}份。"
    return f"{together}份材料一次交齐。"


def materials_header(view: BundleGuide) -> str:
    """What one submission covers, above the list of materials."""
    text = (
        f"一次提交，{len(view.member_guides)}件事共用一套材料（分开办要交{view.separate_materials}份，"
        f"一起办交{len(view.materials)}份）"
    )
    if view.produced:
        text += f"；{'、'.join(view.produced)}由前面的事项办好后直接流转，不用自己交"
    return text + "："


def bundles_with(members: Iterable[str], bundles: Iterable[Bundle]) -> list[Bundle]:
    """The bundles that hold every one of the given guides (two matters asked about together)."""
    wanted = set(members)
    return [b for b in bundles if wanted <= set(b.members)]
