"""An action's reply without the slot events that set a slot to the value it already holds.

Why: actions/state.py returns the whole state transition of a turn, so an answer resets about ten
slots, most of them to the value they hold (no pending choice stays no pending choice).  Rasa
stores every event, loads the last turns' events for every later turn, replays them in its
policies and sends them to the action server with every call: about 60 % of a conversation's
slot events (164 of 274 in 40 real-length turns) changed nothing and cost all of that.  Applied,
such an event leaves the tracker as it was, so dropping it changes no slot, no policy state and
no reply.

Kept anyway:
- the fallback streak (`slots.FALLBACK_STREAK`): `turns.previous_fallback_streak` reads it from
  the previous turn's events, so each turn records it;
- every slot event after one that resets state (a restart, a new session, all slots reset): the
  values before it no longer tell what a slot holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import slots

ALWAYS_KEPT = frozenset({slots.FALLBACK_STREAK})
_RESETS = frozenset({"restart", "session_started", "reset_slots"})


def changes_only(events: list[dict[str, Any]], held: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`events` without the slot events that set a slot to what it holds at that point."""
    values = dict(held)
    out = []
    for event in events:
        kind = event.get("event")
        if kind in _RESETS:
            values = {}  # unknown from here on: keep every later slot event
        elif kind == "slot":
            name = event.get("name")
            if name not in ALWAYS_KEPT and name in values and values[name] == event.get("value"):
                continue
            values[name] = event.get("value")
        out.append(event)
    return out


def install() -> None:
    """Filter every action's reply in rasa_sdk's executor (scripts/action_server.py calls this)."""
    from rasa_sdk.executor import ActionExecutor

    original = ActionExecutor.run
    if getattr(original, "changes_only", False):
        return

    async def run(self: ActionExecutor, action_call: dict[str, Any]) -> dict[str, Any] | None:
        result = await original(self, action_call)
        held = (action_call.get("tracker") or {}).get("slots")
        if result is not None and isinstance(held, dict) and isinstance(result.get("events"), list):
            result["events"] = changes_only(result["events"], held)
        return result

    run.changes_only = True  # type: ignore[attr-defined]
    ActionExecutor.run = run  # type: ignore[method-assign]
