"""Typed keys for what the aiohttp application shares (set up by bot.app, read by connectors)."""

from __future__ import annotations

from aiohttp import web

from bot.channels import ChannelRegistry
from bot.config import BotConfig
from bot.rasa_client import RasaClient
from bot.service import ConversationService
from bot.store import Store

CONFIG = web.AppKey("config", BotConfig)
CHANNELS = web.AppKey("channels", ChannelRegistry)
STORE = web.AppKey("store", Store)
RASA = web.AppKey("rasa", RasaClient)
SERVICE = web.AppKey("service", ConversationService)
STARTED_AT = web.AppKey("started_at", float)
