"""济时办 bot service: conversations, storage and routing between the channels and Rasa.

from bot.app import create_app
from bot.config import BotConfig
web.run_app(create_app(BotConfig.load()))
"""
