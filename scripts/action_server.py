"""The action server as the project runs it: `python -m rasa_sdk` with two protections added.

    .venv/bin/python scripts/action_server.py --actions actions --port 5055

- It listens on ACTION_HOST, loopback by default (rasa_sdk alone listens on 0.0.0.0): only Rasa,
  on the same machine, calls it.  A deployment that puts it on another host sets ACTION_HOST.
- With ACTION_SECRET set, /webhook and /actions answer 401 unless the request carries the header
  `X-Action-Secret: <ACTION_SECRET>`; Rasa sends it (endpoints.yml, action_endpoint.headers).
  /health stays open for the readiness checks.  scripts/run.sh sets a random secret each start.

Before it listens it loads the search's word segmenter (jieba's dictionary, ~1.4 s of CPU, most
of a first search's cost), so the first questions after a restart are answered at the usual speed
(until then the port is closed: Rasa drops the turn and the bot service sends it again,
bot/rasa_action_outage.py).  It holds no database connection, so workers forked after it (rasa_sdk's
ACTION_SERVER_SANIC_WORKERS > 1) share it safely; the knowledge base itself opens in each worker.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_HEADER = "X-Action-Secret"
OPEN_PATHS = ("/health",)


def create_app(actions: str, secret: str | None) -> object:
    from rasa_sdk.endpoint import create_app as sdk_app
    from sanic import response
    from sanic.request import Request

    app = sdk_app(actions, cors_origins="")  # no browser calls it: no CORS

    @app.middleware("request")
    async def require_secret(request: Request) -> object:
        if not secret or request.path in OPEN_PATHS:
            return None
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return response.json({"error": "missing or wrong action-server secret"}, status=401)
        return None

    return app


def configure_logging(level: int | str | None) -> None:
    """rasa_sdk's coloured log lines, with personal numbers masked in every record (the citizen's
    words reach exceptions and rasa_sdk's debug lines)."""
    from rasa_sdk import utils

    from bot.shared.masking import mask_every_record

    utils.configure_colored_logging(level)
    utils.update_sanic_log_level()
    mask_every_record()


def main() -> None:
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    from rasa_sdk import utils
    from rasa_sdk.endpoint import create_argument_parser

    args = create_argument_parser().parse_args()
    configure_logging(args.loglevel)
    from bot.shared.secrets import configured_secret

    secret = configured_secret("ACTION_SECRET")  # or ACTION_SECRET_FILE
    if secret is None:
        logging.getLogger(__name__).warning("ACTION_SECRET is not set: the action server accepts any caller")
    app = create_app(args.actions, secret)
    from knowledge_base.tokenizer import shared_tokenizer

    shared_tokenizer()  # before the fork (module doc)
    host = os.environ.get("ACTION_HOST", "127.0.0.1")
    app.run(host, args.port, workers=utils.number_of_sanic_workers())  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
