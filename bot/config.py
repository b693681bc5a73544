"""Every bot-service setting in one place: defaults < YAML file < environment < command line.

| variable                 | default                        | meaning                                             |
|--------------------------|--------------------------------|-----------------------------------------------------|
| BOT_CONFIG               | (none)                         | optional YAML file with the keys below (lower case) |
| BOT_HOST                 | 127.0.0.1                      | address to listen on                                |
| BOT_PORT                 | 8080                           | port to listen on                                   |
| RASA_URL                 | http://127.0.0.1:5005          | Rasa server (REST channel + HTTP API); several      |
|                          |                                | instances comma-separated: failover (rasa_client)   |
| RASA_TOKEN               | (none)                         | Rasa HTTP API token (--auth-token), for hand-back   |
| ACTION_URL               | (none)                         | action server; when set, /readyz checks it too      |
| JSB_DATA_DIR             | <repo>/var                     | where the project keeps its runtime files           |
| BOT_DB                   | $JSB_DATA_DIR/bot.sqlite3      | conversations and messages (SQLite, WAL)            |
| BOT_APOLOGY_AFTER        | 4.0                            | seconds before a slow answer gets an apology        |
| BOT_RASA_TIMEOUT         | 60                             | seconds before a Rasa call counts as failed         |
| BOT_RETRY_INTERVAL       | 2.0                            | seconds between checks for messages to retry        |
| BOT_RETRY_MAX_BACKOFF    | 15                             | longest wait between two tries of one message       |
| BOT_PENDING_MAX_AGE      | 86400                          | seconds after which an unanswered message is given  |
|                          |                                | up on (the citizen is told; helpers still see it)   |
| BOT_MAX_MESSAGE_CHARS    | 4000                           | longest citizen message                             |
| BOT_WS_RATE, _RATE_BURST | 1.0, 8                         | widget frames per second per connection, burst      |
| BOT_API_RATE, _RATE_BURST| 5.0, 20                        | /api requests per second per address (callers       |
|                          |                                | without an API key: anonymous pages, staff), burst  |
| BOT_API_KEY_RATE, _BURST | 200, 400                       | REST requests per second per API key (a portal      |
|                          |                                | backend calls for all its users from one address)   |
| BOT_API_USER_RATE, _BURST| 2.0, 10                        | REST messages per second per citizen (user_id or    |
|                          |                                | conversation), burst; the widget: BOT_WS_RATE       |
| BOT_ALLOWED_ORIGINS      | (the serving origin)           | comma-separated origins (https://portal.example)    |
|                          |                                | whose pages may open the widget websocket; * = any  |
| BOT_REST_DEV_OPEN        | off                            | on: REST calls without a key are let in (local      |
|                          |                                | development only; keys: python -m bot.apikeys)      |
| BOT_HISTORY_LIMIT        | 200                            | messages sent back when a widget reconnects         |
| BOT_RETENTION_DAYS       | 180                            | citizens' messages are purged this long after their |
|                          |                                | conversation's last message (python -m bot.retention) |
| BOT_LOG_LEVEL / _FORMAT  | INFO / json                    | logging level; json lines or text                   |
| BOT_SHUTDOWN_GRACE       | 5                              | seconds running answers get to finish on shutdown   |
| HELPDESK_SESSION_HOURS   | 12                             | helper console sessions expire after this long      |
| HELPDESK_COOKIE_SECURE   | auto                           | Secure cookie: auto (when served over https), on, off |
| HELPDESK_LOGIN_TRIES     | 5                              | failed logins of one account before it is locked    |
| HELPDESK_LOGIN_ADDRESS_TRIES | 20                         | failed logins from one address before it is locked  |
| HELPDESK_LOGIN_LOCKOUT   | 30                             | first lockout in seconds; doubles per further       |
|                          |                                | failure, at most an hour (bot/login_guard.py)       |
| HELPDESK_MAX_CHATS       | 5                              | conversations one helper may hold at once           |
| HELPDESK_AUTO_ASSIGN     | off                            | on: give waiting conversations to online helpers    |
|                          |                                | (console open), least busy first (docs/helpers.md)  |
| HELPDESK_AUTO_ASSIGN_CAP | 2                              | auto-assign only while a helper holds fewer         |
| HELPDESK_MAX_CHARS       | 2000                           | longest helper message                              |
| HELPDESK_HOURS           | 1-5 09:00-17:00                | when helpers work (bot/service_hours.py), or always |
| HELPDESK_TIMEZONE        | Asia/Shanghai                  | the time zone of HELPDESK_HOURS                     |
| RATING_FOLLOW_UP_DAYS    | 15                             | days staff have to settle (整改) a low 好差评 rating  |
| FIRST_RESPONSE_TARGET    | 60                             | seconds within which a helper should first answer   |
|                          |                                | (the analytics page reports the share that did)     |
| TELEGRAM_TOKEN           | (none)                         | Telegram bot token; the channel is off without it   |
| TELEGRAM_MODE            | webhook with a URL, else polling | how Telegram updates arrive                       |
| TELEGRAM_WEBHOOK_URL     | (none)                         | public https URL Telegram posts updates to          |
| TELEGRAM_WEBHOOK_SECRET  | (random per start)             | secret Telegram sends back in a header              |
| TELEGRAM_BASE_URL        | https://api.telegram.org/bot   | Bot API server (tests point it at a stand-in)       |
| TELEGRAM_BASE_FILE_URL   | …/file/bot                     | the same for file downloads                         |
| BOT_RETRAIN              | off                            | on: retrain Rasa when KB names change (bot/retrain.py) |
| BOT_RETRAIN_POLL         | 5                              | seconds between checks of the KB store's generation |
| BOT_RETRAIN_COMMAND      | rasa train … (see below)       | training command; {python} {lookups} {out} filled in |
| BOT_RETRAIN_DIR          | $JSB_DATA_DIR/retrain          | staging models, training logs, the state file       |
| BOT_RETRAIN_MODELS_DIR   | (none)                         | also copy a swapped-in model here (set it to        |
|                          |                                | RASA_MODELS_DIR so a restart keeps the new model)   |
| BOT_RETRAIN_TIMEOUT      | 3600                           | seconds before a training run is stopped as failed  |
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from bot.service_hours import HoursError, ServiceHours
from bot.shared import training

REPO_ROOT = Path(__file__).resolve().parent.parent


# The training step of scripts/train.sh, with the lookup tables the retrainer generated.
DEFAULT_RETRAIN_COMMAND = training.TEMPLATE


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


@dataclass(frozen=True)
class BotConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = None
    action_url: str | None = None
    data_dir: Path = REPO_ROOT / "var"
    db_path: Path | None = None  # None: data_dir / "bot.sqlite3"
    apology_after: float = 4.0
    rasa_timeout: float = 60.0
    retry_interval: float = 2.0
    retry_max_backoff: float = 15.0
    pending_max_age: float = 86400.0
    max_message_chars: int = 4000
    ws_rate: float = 1.0
    ws_burst: int = 8
    api_rate: float = 5.0
    api_burst: int = 20
    api_key_rate: float = 200.0
    api_key_burst: int = 400
    api_user_rate: float = 2.0
    api_user_burst: int = 10
    allowed_origins: tuple[str, ...] = ()  # empty: only the origin the service is served from
    rest_dev_open: bool = False
    history_limit: int = 200
    retention_days: float = 180.0
    log_level: str = "INFO"
    log_format: str = "json"
    shutdown_grace: float = 5.0
    helpdesk_session_hours: float = 12.0
    helpdesk_cookie_secure: str = "auto"
    helpdesk_login_tries: int = 5
    helpdesk_login_address_tries: int = 20
    helpdesk_login_lockout: float = 30.0
    helpdesk_max_chats: int = 5
    helpdesk_auto_assign: bool = False
    helpdesk_auto_assign_cap: int = 2
    helpdesk_max_chars: int = 2000
    helpdesk_hours: str = "1-5 09:00-17:00"
    helpdesk_timezone: str = "Asia/Shanghai"
    rating_follow_up_days: float = 15.0
    first_response_target: float = 60.0
    telegram_token: str | None = None
    telegram_mode: str | None = None  # None: webhook when telegram_webhook_url is set, else polling
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    telegram_poll_interval: float = 0.0
    retrain: str = "off"
    retrain_poll: float = 5.0
    retrain_command: str = DEFAULT_RETRAIN_COMMAND
    retrain_dir: Path | None = None  # None: data_dir / "retrain"
    retrain_models_dir: Path | None = None
    retrain_timeout: float = 3600.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.db_path or self.data_dir / "bot.sqlite3"

    @property
    def retrain_path(self) -> Path:
        return self.retrain_dir or self.data_dir / "retrain"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def telegram_effective_mode(self) -> str:
        return self.telegram_mode or ("webhook" if self.telegram_webhook_url else "polling")

    def replace(self, **changes: Any) -> BotConfig:
        return dataclasses.replace(self, **changes)

    def check(self) -> BotConfig:
        """Fail early, with the setting's name, on values that would only break later."""
        if not 0 < self.port < 65536:
            raise ConfigError(f"BOT_PORT must be 1-65535, got {self.port}")
        urls = [url.strip() for url in self.rasa_url.split(",")]
        if not all(url.startswith(("http://", "https://")) for url in urls):
            raise ConfigError(f"RASA_URL must be http(s) URLs (comma-separated), got {self.rasa_url!r}")
        if self.apology_after <= 0 or self.rasa_timeout < self.apology_after:
            raise ConfigError("need 0 < BOT_APOLOGY_AFTER <= BOT_RASA_TIMEOUT")
        if self.max_message_chars < 1:
            raise ConfigError("BOT_MAX_MESSAGE_CHARS must be positive")
        rates = (self.ws_rate, self.api_rate, self.api_key_rate, self.api_user_rate)
        bursts = (self.ws_burst, self.api_burst, self.api_key_burst, self.api_user_burst)
        if min(rates) <= 0 or min(bursts) < 1:
            raise ConfigError("rates must be positive and bursts at least 1")
        if self.log_format not in ("json", "text"):
            raise ConfigError(f"BOT_LOG_FORMAT must be json or text, got {self.log_format!r}")
        if self.helpdesk_cookie_secure not in ("auto", "on", "off"):
            raise ConfigError(f"HELPDESK_COOKIE_SECURE must be auto, on or off, got {self.helpdesk_cookie_secure!r}")
        if min(self.helpdesk_login_tries, self.helpdesk_login_address_tries) < 1 or self.helpdesk_login_lockout <= 0:
            raise ConfigError("HELPDESK_LOGIN_TRIES, _ADDRESS_TRIES and HELPDESK_LOGIN_LOCKOUT must be positive")
        if self.helpdesk_session_hours <= 0 or self.helpdesk_max_chats < 1 or self.helpdesk_max_chars < 1:
            raise ConfigError("HELPDESK_SESSION_HOURS, HELPDESK_MAX_CHATS and HELPDESK_MAX_CHARS must be positive")
        if self.helpdesk_auto_assign_cap < 1:
            raise ConfigError("HELPDESK_AUTO_ASSIGN_CAP must be at least 1")
        try:
            ServiceHours.parse(self.helpdesk_hours, self.helpdesk_timezone)
        except HoursError as err:
            raise ConfigError(f"HELPDESK_HOURS / HELPDESK_TIMEZONE: {err}") from err
        if self.rating_follow_up_days <= 0 or self.first_response_target <= 0:
            raise ConfigError("RATING_FOLLOW_UP_DAYS and FIRST_RESPONSE_TARGET must be positive")
        if self.retrain not in ("on", "off"):
            raise ConfigError(f"BOT_RETRAIN must be on or off, got {self.retrain!r}")
        if self.retrain_poll <= 0 or self.retrain_timeout <= 0:
            raise ConfigError("BOT_RETRAIN_POLL and BOT_RETRAIN_TIMEOUT must be positive")
        if "{out}" not in self.retrain_command or "{lookups}" not in self.retrain_command:
            raise ConfigError("BOT_RETRAIN_COMMAND must contain {lookups} and {out}")
        if self.telegram_mode not in (None, "webhook", "polling"):
            raise ConfigError(f"TELEGRAM_MODE must be webhook or polling, got {self.telegram_mode!r}")
        if self.telegram_enabled and self.telegram_effective_mode == "webhook" and not self.telegram_webhook_url:
            raise ConfigError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL (the public https address)")
        return self

    @classmethod
    def load(
        cls,
        yaml_path: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> BotConfig:
        """Defaults, then the YAML file (argument or BOT_CONFIG), then the environment, then overrides."""
        env = os.environ if env is None else env
        if env.get("BOT_API_KEYS"):
            raise ConfigError(
                "BOT_API_KEYS is no longer read: REST keys are stored hashed in the bot database. "
                "Create one per calling app with  python -m bot.apikeys create APP  and unset BOT_API_KEYS"
            )
        values: dict[str, Any] = {}
        yaml_path = yaml_path or env.get("BOT_CONFIG")
        if yaml_path:
            values.update(_read_yaml(Path(yaml_path)))
        for name, variable in _ENV_NAMES.items():
            if env.get(variable, "") != "":
                values[name] = env[variable]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(values).check()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BotConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown bot setting(s): {', '.join(unknown)}")
        converted = {name: _convert(known[name].type, name, value) for name, value in values.items()}
        return cls(**converted)


_ENV_NAMES = {
    "host": "BOT_HOST",
    "port": "BOT_PORT",
    "rasa_url": "RASA_URL",
    "rasa_token": "RASA_TOKEN",
    "action_url": "ACTION_URL",
    "data_dir": "JSB_DATA_DIR",
    "db_path": "BOT_DB",
    "apology_after": "BOT_APOLOGY_AFTER",
    "rasa_timeout": "BOT_RASA_TIMEOUT",
    "retry_interval": "BOT_RETRY_INTERVAL",
    "retry_max_backoff": "BOT_RETRY_MAX_BACKOFF",
    "pending_max_age": "BOT_PENDING_MAX_AGE",
    "max_message_chars": "BOT_MAX_MESSAGE_CHARS",
    "ws_rate": "BOT_WS_RATE",
    "ws_burst": "BOT_WS_RATE_BURST",
    "api_rate": "BOT_API_RATE",
    "api_burst": "BOT_API_RATE_BURST",
    "api_key_rate": "BOT_API_KEY_RATE",
    "api_key_burst": "BOT_API_KEY_BURST",
    "api_user_rate": "BOT_API_USER_RATE",
    "api_user_burst": "BOT_API_USER_BURST",
    "allowed_origins": "BOT_ALLOWED_ORIGINS",
    "rest_dev_open": "BOT_REST_DEV_OPEN",
    "history_limit": "BOT_HISTORY_LIMIT",
    "retention_days": "BOT_RETENTION_DAYS",
    "log_level": "BOT_LOG_LEVEL",
    "log_format": "BOT_LOG_FORMAT",
    "shutdown_grace": "BOT_SHUTDOWN_GRACE",
    "helpdesk_session_hours": "HELPDESK_SESSION_HOURS",
    "helpdesk_cookie_secure": "HELPDESK_COOKIE_SECURE",
    "helpdesk_login_tries": "HELPDESK_LOGIN_TRIES",
    "helpdesk_login_address_tries": "HELPDESK_LOGIN_ADDRESS_TRIES",
    "helpdesk_login_lockout": "HELPDESK_LOGIN_LOCKOUT",
    "helpdesk_max_chats": "HELPDESK_MAX_CHATS",
    "helpdesk_auto_assign": "HELPDESK_AUTO_ASSIGN",
    "helpdesk_auto_assign_cap": "HELPDESK_AUTO_ASSIGN_CAP",
    "helpdesk_max_chars": "HELPDESK_MAX_CHARS",
    "helpdesk_hours": "HELPDESK_HOURS",
    "helpdesk_timezone": "HELPDESK_TIMEZONE",
    "rating_follow_up_days": "RATING_FOLLOW_UP_DAYS",
    "first_response_target": "FIRST_RESPONSE_TARGET",
    "telegram_token": "TELEGRAM_TOKEN",
    "telegram_mode": "TELEGRAM_MODE",
    "telegram_webhook_url": "TELEGRAM_WEBHOOK_URL",
    "telegram_webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
    "telegram_base_url": "TELEGRAM_BASE_URL",
    "telegram_base_file_url": "TELEGRAM_BASE_FILE_URL",
    "retrain": "BOT_RETRAIN",
    "retrain_poll": "BOT_RETRAIN_POLL",
    "retrain_command": "BOT_RETRAIN_COMMAND",
    "retrain_dir": "BOT_RETRAIN_DIR",
    "retrain_models_dir": "BOT_RETRAIN_MODELS_DIR",
    "retrain_timeout": "BOT_RETRAIN_TIMEOUT",
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read bot config {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"bot config {path} must be a mapping of setting: value")
    return data


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "on", "true", "yes"):
        return True
    if word in ("0", "off", "false", "no"):
        return False
    raise ValueError(f"{name} must be on or off")


def _convert(type_name: Any, name: str, value: Any) -> Any:
    """Turn strings from the environment (or YAML scalars) into the field's type."""
    kind = str(type_name)
    try:
        if value is None:
            return None
        if "tuple" in kind:
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            return tuple(str(part) for part in value)
        if kind.startswith("bool"):
            return _flag(name, value)
        if "Path" in kind:
            return Path(value).expanduser()
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
        if "Mapping" in kind:
            return dict(value)
        return str(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"bot setting {name}: cannot use {value!r} ({err})") from err
