"""Pointing out a 一件事 bundle when a citizen asks about two of its member matters.

"孩子报户口要啥" and then "社保卡咋办": both are members of 出生一件事, so after the second answer
the assistant says they can be done together (one form, one set of materials) and offers the
bundle as a button.  The other matter may have been discussed earlier in the conversation or be
named in the same message; the hint is shown once, when the conversation moves to a new matter.
"""

from __future__ import annotations

from functools import lru_cache

from rasa_sdk.executor import CollectingDispatcher

from knowledge_base.bundles import short
from knowledge_base.models import Bundle, Entry, Guide

from . import knowledge, texts
from .state import State

MIN_NAME_CHARS = 3  # shorter aliases ("社保") are too loose to say a member matter was named


@lru_cache(maxsize=4)
def _bundles(generation: int) -> tuple[Bundle, ...]:  # generation is the cache key
    return tuple(b for b in knowledge.knowledge_base().store.all("bundle") if isinstance(b, Bundle))


def bundles() -> tuple[Bundle, ...]:
    return _bundles(knowledge.knowledge_base().store.generation())


def named_guides(text: str) -> set[str]:
    """Guides the message names by title or alias (longest names first, each span once)."""
    text = "".join(text.split())
    found: set[str] = set()
    for name, guide_id in sorted(knowledge.names().guides_by_title.items(), key=lambda kv: -len(kv[0])):
        if len(name) >= MIN_NAME_CHARS and name in text and guide_id.startswith("guide."):
            found.add(guide_id)
            text = text.replace(name, " ")
    return found


def bundle_for(state: State, text: str, answered: Entry) -> tuple[Bundle, list[str]] | None:
    """The bundle holding the answered guide and another matter of this conversation (named now
    or discussed before), with the ids of those members; None when there is none to point out."""
    guide = knowledge.guide_of(answered)
    if not isinstance(guide, Guide) or guide.kind != "guide" or guide.id == state.service_id:
        return None  # a bundle itself, or still the same matter: nothing new to point out
    asked = named_guides(text) | {s for s in (state.service_id, *state.recent_services) if s}
    for bundle in bundles():
        if guide.id not in bundle.members or bundle.id in asked:
            continue
        others = [m for m in bundle.members if m in asked and m != guide.id]
        if others:
            return bundle, [*others, guide.id]
    return None


def point_out(dispatcher: CollectingDispatcher, state: State, text: str, answered: Entry) -> None:
    found = bundle_for(state, text, answered)
    if found is None:
        return
    bundle, members = found
    titles = "、".join(f"《{short(knowledge.title(g))}》" for g in map(knowledge.get, members) if g is not None)
    dispatcher.utter_message(
        text=texts.BUNDLE_HINT.format(matters=titles, bundle=bundle.title, merged="、".join(bundle.merged)),
        buttons=[texts.button_entry(bundle.id, f"看看{bundle.title}")],
    )
