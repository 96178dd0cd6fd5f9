"""The `log` channel: the dashboard reads the outbox, so delivering is recording that it was shown there."""

from __future__ import annotations

import aiohttp
from loguru import logger

from monitor.config.settings import ChannelConfig
from monitor.core.model import OutboxMessage
from responders.base import register


class LogNotifier:
    """The dashboard reads the outbox; delivering is recording that it was shown there."""

    def __init__(self, config: ChannelConfig, session: aiohttp.ClientSession, settings=None) -> None:
        self.name = config.name

    async def send(self, message: OutboxMessage) -> None:
        logger.info("[{}] {}", self.name, message.payload.get("text", "").splitlines()[0])


register("log")(LogNotifier)
