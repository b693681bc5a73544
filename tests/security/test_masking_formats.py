"""Issue #14, finding 6: the formats the masking missed, and one masking for both processes."""

from __future__ import annotations

import pytest

from actions.privacy import mask as action_mask
from bot.service import _echo
from bot.shared.masking import mask

ID = "370125199001011234"
MOBILE = "13812345678"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("sfz370125199001011234", "sfz3701**********1234"),  # glued to letters before
        ("ID370125199001011234abc", "ID3701**********1234abc"),  # and after
        ("身份证号 370125 19900101 1234", "身份证号 3701**********1234"),  # spaced
        ("身份证号3701-2519-9001-0112-34", "身份证号3701**********1234"),  # dashed
        ("３７０１２５１９９００１０１１２３４", "3701**********1234"),  # full-width digits
        ("３７０１２５１９９００１０１１２３Ｘ", "3701**********123X"),
        ("身份证370125\u200b199001011234", "身份证3701**********1234"),  # zero-width inside
        ("身份证370125199013451234", "身份证3701**********1234"),  # impossible birth date (month 13)
        ("电话：１３８１２３４５６７８", "电话：138****5678"),
        ("tel13812345678", "tel138****5678"),
        ("电话 138 1234 5678", "电话 138****5678"),
    ],
)
def test_missed_formats_are_masked(raw: str, masked: str) -> None:
    assert mask(raw) == masked


@pytest.mark.parametrize("mask_function", [mask, action_mask], ids=["bot", "action_server"])
@pytest.mark.parametrize(
    "raw",
    [
        "身份证370125199013451234",  # the action server's old pattern wanted a real birth date
        "身份证370125199001011234",
        "手机12012345678",  # the action server's old pattern wanted 13x-19x
        "sfz370125199001011234",
        "３７０１２５１９９００１０１１２３４",
    ],
)
def test_both_processes_mask_the_same(mask_function, raw: str) -> None:
    digits = "".join(c for c in raw.translate({0xFF10 + d: str(d) for d in range(10)}) if c.isdigit())
    assert digits not in mask_function(raw)
    assert mask_function(raw) == mask(raw)


def test_the_echo_of_a_question_never_keeps_most_of_an_id_number() -> None:
    # The late-answer notice quotes the first 20 characters: cut first, the ID lost its last digit
    # and no longer looked like one (17 of 18 digits in the stored notice, unmasked for staff).
    echoed = _echo(f"您好我的身份证号是{ID}请帮我查一下")
    assert ID[:17] not in echoed and ID[:12] not in echoed
    assert mask(echoed) == echoed


# The formats the action server's own pattern let through (before it used the shared masking), as
# the name of an action Rasa asks for: rasa_sdk logs an unknown name, and nothing of ours masks it
# unless every log record of the process is masked.
MISSED_BY_THE_ACTION_SERVER = {
    "370125199013451234": "3701**********1234",  # impossible birth date (month 13)
    "12012345678": "120****5678",  # a 12x mobile
    "３７０１２５１９９００１０１１２３４": "3701**********1234",  # full-width digits
}


def test_the_action_servers_own_log_lines_are_masked(tmp_path) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from rasa_stack import REPO, free_port

    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("ACTION_SECRET", "ACTION_SECRET_FILE")}
    log = tmp_path / "actions.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "scripts/action_server.py", "--actions", "actions", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except (urllib.error.URLError, OSError):
                assert server.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.3)
        for number in MISSED_BY_THE_ACTION_SERVER:
            call = {"next_action": f"action_身份证{number}", "sender_id": "c1", "tracker": {"sender_id": "c1"}}
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhook",
                data=json.dumps(call, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json"},
            )
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except urllib.error.HTTPError as refused:
                assert refused.code == 404  # no such action: rasa_sdk logs the name it was given
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    lines = log.read_text(encoding="utf-8", errors="replace")
    for number, masked in MISSED_BY_THE_ACTION_SERVER.items():
        assert number not in lines
        assert f"action_身份证{masked}" in lines  # the line was written, masked
