"""Ratings (rate_good / rate_bad): the `rating` payload names the last answered entry, so staff
see which answers help and which do not."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from . import payloads, texts, turns
from . import state as st
from .privacy import mask, shorten
from .state import State

COMMENT_CHARS = 200


class ActionRating(Action):
    def name(self) -> str:
        return "action_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        good = turns.latest_intent(tracker) == "rate_good"
        words = turns.latest_text(tracker)  # "" when a rating button was pressed
        comment = shorten(mask(words), COMMENT_CHARS) if words else None
        entry_id = State.of(tracker).last_answer_id
        if good:
            dispatcher.utter_message(text=texts.THANKS_GOOD)
        else:
            dispatcher.utter_message(text=texts.THANKS_BAD, buttons=[texts.BUTTON_HUMAN])
        dispatcher.utter_message(json_message=payloads.rating("good" if good else "bad", entry_id, comment))
        return st.offer(None)
