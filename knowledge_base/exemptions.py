"""免证办: how a material an 电子证照 replaces is told to a citizen, and how much paper is left.

A material with `exempt` set (knowledge_base.models.Exemption) is marked 可免提交 with the licence
and the way it is presented; the list ends with how many materials are still handed in on paper.
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import Exemption, Material

# What the citizen does instead of bringing the paper, per way.
HOW = {
    "爱山东亮证": "在爱山东APP“亮证”出示{licence}即可",
    "数据共享免提交": "部门通过数据共享调取{licence}，不用提交",
    "告知承诺": "签署{licence}代替，事后核查",
}


def describe(exemption: Exemption) -> str:
    """ "可免提交：…" for one material."""
    text = "可免提交：" + HOW[exemption.way].format(licence=exemption.licence)
    return text + (f"（{exemption.note}）" if exemption.note else "")


def paper_summary(materials: Sequence[Material]) -> str | None:
    """The count of materials still on paper, when some are exempt (None when none is)."""
    exempt = [m for m in materials if m.exempt is not None]
    if not exempt:
        return None
    paper = [m for m in materials if m.on_paper]
    required = [m for m in paper if m.required]
    optional = len(paper) - len(required)
    text = f"共{len(materials)}项材料，其中{len(exempt)}项可免提交；还需交纸质材料{len(paper)}项"
    if optional:
        text += f"（必交{len(required)}项，另{optional}项视情况提供）"
    return text + "。"
