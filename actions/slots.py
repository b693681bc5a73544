"""Names of the slots the actions read and set (declared in domain.yml; read and written only
through actions/state.py), and which of them a new session keeps.  None of them influences the
dialogue policy: rules map intents to actions and the actions read these slots to decide what to
say."""

from __future__ import annotations

SERVICE_ID = "service_id"  # the service in context: a guide id (or a Q&A id without a guide)
LAST_ANSWER_ID = "last_answer_id"  # the entry of the last answer given (rated by rate_good/bad)
PENDING_ELEMENT = "pending_element"  # the element asked about while a clarifying question is open
PENDING_OFFER = "pending_offer"  # what a yes/no would answer: handoff / resume / clarify
WALKTHROUGH_ID = "walkthrough_id"  # the guide being walked through online
WALKTHROUGH_STEP = "walkthrough_step"  # 1-based step shown last (kept when paused, for resume)
WALKTHROUGH_ACTIVE = "walkthrough_active"
HANDOFF_ACTIVE = "handoff_active"  # a helper has the conversation; the bot service resets it
FALLBACK_STREAK = "fallback_streak"  # how many turns in a row the assistant could not help
PLACE = "place"  # street / town for 就近办 (filled by the place entity or the centre form)
PLACE_ATTEMPTS = "place_attempts"  # places given that matched no centre, in this form
CURRENT_ELEMENT = "current_element"  # the element of the service in context answered last
RECENT_SERVICES = "recent_services"  # services discussed, newest first ("刚才那个")
PENDING_CHOICES = "pending_choices"  # ids offered last (entries, or centres), in the order shown
CHOICE_KIND = "choice_kind"  # what the pending choices are: entry / center / terminal
PENDING_THEN = "pending_then"  # what to do once a choice is made: walkthrough (or nothing)
CENTER_ID = "center_id"  # the centre shown last (its hours, phone, "那另一个呢")
RECENT_CENTERS = "recent_centers"  # centres shown, newest first
TERMINAL_IDS = "terminal_ids"  # 自助办: the terminals of the last terminal answer ("几点关门")
TERMINAL_MATTER = "terminal_matter"  # the guide those terminals were found for ("我在崔寨" again)

# Offers a yes/no can answer.
OFFER_HANDOFF = "handoff"
OFFER_RESUME = "resume"
OFFER_CLARIFY = "clarify"

# Kept when a new session starts (a returning citizen continues where they left off); the others
# only make sense inside one exchange and are reset.
CARRIED_OVER = (SERVICE_ID, LAST_ANSWER_ID, RECENT_SERVICES, WALKTHROUGH_ID, WALKTHROUGH_STEP, HANDOFF_ACTIVE)
