"""Custom actions of the 济时办 assistant (Rasa SDK 3.6), run by `python -m rasa_sdk --actions actions`.

One job per module (the conversation state and its rules: docs/dialogue.md):
- state.py        the conversation state, read from and written to the slots (the only place)
- router.py       what every typed message is checked for first: waiting for a helper, a pick of
                  the offered choices (choices.py), a centre follow-up, unreadable text (ood.py)
- answers.py      ask_service / ask_element / choose_entry: find the entry, answer or clarify
- walkthrough.py  the online steps one by one, stop and resume
- handoff.py      request_human, complaint, "卡住了": the `handoff` payload
- fallback.py     nlu_fallback / out_of_scope; recovery.py: rephrase first, then offer a helper
- feedback.py     ratings; centers.py: 就近办 (centre form); session.py: session start, greeting,
                  small talk, yes/no
- crossregion.py  跨域通办 questions; self_service.py: 自助办 terminals and their follow-ups
- bundle_hints.py pointing out a 一件事 when two of its member matters come up
- knowledge.py    the knowledge base (opened once per process); matching.py: answer/clarify/none
- texts.py        what the assistant says; payloads.py: docs/payloads.md; slots.py, turns.py
- config.py       settings from the environment and the thresholds (calibrate.py measures them)
"""
