"""One element of one guide as plain Chinese text: what the assistant says when asked
"要带什么材料?" or "要多少钱?".  Only fields of the entry are used, never anything else."""

from __future__ import annotations

from . import crossregion
from .bundles import BundleGuide, materials_header
from .exemptions import describe, paper_summary
from .models import ELEMENT_LABELS, Guide


def _numbered(lines: list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, start=1))


def render_element(guide: Guide, element: str) -> str | None:
    """The text of `element` (a key of ELEMENT_LABELS) for `guide`; None when the guide lacks it."""
    if element == "materials":
        lines = []
        for m in guide.materials:
            line = f"{m.name}（{m.form}{'' if m.count == 1 else f' {m.count}份'}）"
            if not m.required:
                line += "〔视情况提供〕"
            if m.note:
                line += f"：{m.note}"
            if m.exempt is not None:
                line += f"〔{describe(m.exempt)}〕"
            lines.append(line)
        text = _numbered(lines)
        paper = paper_summary(guide.materials)
        if paper:
            text += "\n" + paper
        if isinstance(guide, BundleGuide):
            return materials_header(guide) + "\n" + text
        return text
    if element == "conditions":
        return _numbered(guide.conditions)
    if element == "process":
        return _numbered([s.title + (f"：{s.detail}" if s.detail else "") for s in guide.process])
    if element == "time_limit":
        return f"法定时限：{guide.time_limit.legal}\n承诺时限：{guide.time_limit.promised}"
    if element == "fee":
        fee = guide.fee
        return fee.standard + (f"（依据：{fee.basis}）" if fee.charged and fee.basis else "")
    if element == "location":
        loc = guide.location
        return f"{loc.hall}\n地址：{loc.address}\n时间：{loc.hours}\n电话：{loc.phone}"
    if element == "phone":
        return f"{guide.location.phone}（{guide.department}）"
    if element == "online":
        if guide.online is None:
            return None
        return f"{guide.online.platform}：{guide.online.entry}\n" + _numbered(guide.online.steps)
    if element == "legal_basis":
        return "\n".join(guide.legal_basis)
    if element == "audience":
        return "、".join(guide.audience)
    if element == "cross_region":
        return crossregion.render(guide)
    raise KeyError(f"unknown element {element!r}; known: {', '.join(ELEMENT_LABELS)}")
