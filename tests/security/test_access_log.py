"""Issue #14, finding 6: the access log masks numbers also when the query string percent-encodes them."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.logs import MaskedAccessLogger

ID = "370125199001011234"
MOBILE = "13812345678"


def _line(path: str, caplog) -> str:
    logger = logging.getLogger("test.access")
    request = make_mocked_request("GET", path)
    with caplog.at_level(logging.INFO, logger="test.access"):
        MaskedAccessLogger(logger, "").log(request, web.Response(status=200, text="ok"), 0.01)
    return caplog.records[-1].getMessage()


def test_percent_encoded_numbers_are_masked(caplog) -> None:
    encoded_mobile = "".join(f"%{ord(c):02X}" for c in MOBILE)
    encoded_id = "".join(f"%{ord(c):02X}" for c in ID)
    line = _line(f"/api/v1/x?user_id={encoded_mobile}&q=%E8%BA%AB{encoded_id}&p=138+1234+5678", caplog)
    assert MOBILE not in line and ID not in line and encoded_mobile not in line and encoded_id not in line
    assert "138****5678" in line and "3701**********1234" in line
    assert '"GET /api/v1/x?user_id=138****5678&q=身3701**********1234' in line
    assert line.endswith(" 200 0 0.010000s")  # status, bytes, seconds as before


def test_plain_numbers_in_the_path_are_masked(caplog) -> None:
    line = _line(f"/api/v1/conversations/{MOBILE}", caplog)
    assert MOBILE not in line
