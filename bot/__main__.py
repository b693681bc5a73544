"""Run the bot service:  python -m bot [--port 8080] [--config bot.yml] [--print-config]."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot import config as config_module
from bot.app import create_app
from bot.config import BotConfig, ConfigError
from bot.logs import MaskedAccessLogger, configure_logging

EPILOG = (
    "Settings come from (later wins): built-in defaults, a YAML file (--config or BOT_CONFIG),\n"
    "environment variables, then the options above.  Every setting and its variable:\n"
    + "\n".join("  " + line for line in (config_module.__doc__ or "").strip().splitlines()[2:])
    + "\n\nEndpoints: /  (demo portal with the widget)   /ws  (widget websocket)   /api/openapi.json\n"
    "           /healthz (liveness)   /readyz (Rasa reachable)   /telegram/webhook (with TELEGRAM_TOKEN)\n"
    "           /helpdesk/ (online helpers' console; accounts: python -m bot.accounts create NAME --role …)\n"
    "REST callers need a key:  python -m bot.apikeys create APP  (docs/security.md)\n"
    "Stop with Ctrl-C or SIGTERM: open answers get BOT_SHUTDOWN_GRACE seconds to finish; anything\n"
    "unanswered stays stored and is answered after the next start."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="济时办 bot service: web widget, REST API and Telegram in front of the Rasa assistant.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="YAML file with settings (keys as in BotConfig, lower case)")
    parser.add_argument("--host", help="address to listen on (BOT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (BOT_PORT, default 8080)")
    parser.add_argument("--rasa-url", help="Rasa server URL (RASA_URL, default http://127.0.0.1:5005)")
    parser.add_argument(
        "--db", dest="db_path", metavar="FILE", help="SQLite file (BOT_DB, default $JSB_DATA_DIR/bot.sqlite3)"
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING… (BOT_LOG_LEVEL, default INFO)")
    parser.add_argument("--log-format", choices=["json", "text"], help="json lines or text (BOT_LOG_FORMAT)")
    parser.add_argument(
        "--print-config", action="store_true", help="print the effective settings (secrets hidden) and exit"
    )
    return parser.parse_args(argv)


def _printable(config: BotConfig) -> dict[str, Any]:
    values = asdict(config)
    for secret in ("telegram_token", "rasa_token", "telegram_webhook_secret"):
        if values.get(secret):
            values[secret] = "***"
    values["database"] = str(config.database)
    return values


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = BotConfig.load(
            args.config,
            host=args.host,
            port=args.port,
            rasa_url=args.rasa_url,
            db_path=args.db_path,
            log_level=args.log_level,
            log_format=args.log_format,
        )
    except ConfigError as err:
        print(f"bot: {err}", file=sys.stderr)
        return 2
    if args.print_config:
        print(json.dumps(_printable(config), ensure_ascii=False, indent=2, default=str))
        return 0
    configure_logging(config.log_level, config.log_format)
    logging.getLogger("bot").info("bot.listening", extra={"fields": {"host": config.host, "port": config.port}})
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        shutdown_timeout=config.shutdown_grace,
        print=None,
        access_log_class=MaskedAccessLogger,  # '%a "%r" %s %b %Tfs', decoded then masked
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
