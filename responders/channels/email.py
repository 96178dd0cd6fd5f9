"""The email channel (`kind: email`): SMTP with aiosmtplib, STARTTLS / TLS / plain, credentials only from the
environment variables the config names. It sends what the outbox holds:

- a digest (payload kind "digest", monitor/reports/job.py): multipart/alternative of the text part and a
  multipart/related HTML part with its chart as an inline image (Content-ID), to the payload's address;
- a reminder (monitor/deadlines/notices.py): a plain-text mail to the user the row names (`users[].email`), or,
  for a step that names the channel itself, to the channel's `to` addresses.

4xx answers and network failures are retried by the delivery loop (backoff); 5xx answers are final. The
Message-ID is made from the idempotency key, so a mail re-sent after a crash between sending and recording it
carries the same id and a mail client shows it once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiohttp
import aiosmtplib

from monitor.config.settings import ChannelConfig, Settings
from monitor.core import logs
from monitor.core.model import OutboxMessage
from responders.base import DeliveryError, register


def _clean_header(text: str, limit: int = 150) -> str:
    """One line, no control characters: scraped titles never break a header."""
    s = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class EmailNotifier:
    def __init__(self, config: ChannelConfig, session: aiohttp.ClientSession | None = None,
                 settings: Settings | None = None) -> None:
        if config.kind != "email" or not config.host or not config.from_:
            raise ValueError(f"channel {config.name}: kind email needs host and from")
        self.config = config
        self.sender = parseaddr(config.from_)[1]
        self.domain = self.sender.rpartition("@")[2] or "yuqing-sentinel.local"
        self.users = {u.name: u for u in settings.users} if settings else {}
        self.ca_file = str(settings.resolve(config.ca_file)) if settings and config.ca_file else config.ca_file
        logs.register_secret_envs([config.username_env or "", config.password_env or ""])

    # -- the message
    def addresses(self, message: OutboxMessage) -> list[str]:
        payload = message.payload
        if payload.get("kind") == "digest":
            return [payload["to_display"] if payload.get("to_display") else payload["to"]]
        if message.recipient:
            if "@" in message.recipient:
                return [message.recipient]
            user = self.users.get(message.recipient)
            if user is None or not user.email:
                raise DeliveryError(f"用户 {message.recipient} 没有配置 email，无法发送邮件 (user has no email)",
                                    recoverable=False)
            return [str(Address(display_name=user.display or user.name, addr_spec=user.email))]
        listed = [e for e in self.config.to if "@" in e]
        if not listed:
            raise DeliveryError(f"渠道 {self.config.name} 的 to 中没有邮件地址 (no address in to)", recoverable=False)
        return listed

    def build(self, message: OutboxMessage, to: list[str] | None = None) -> EmailMessage:
        payload = message.payload
        msg = EmailMessage()
        msg["From"] = self.config.from_
        msg["To"] = ", ".join(to if to is not None else self.addresses(message))
        msg["Date"] = format_datetime(message.created_at)
        msg["Message-ID"] = f"<{hashlib.sha256(message.key.encode()).hexdigest()[:32]}@{self.domain}>"
        msg["Auto-Submitted"] = "auto-generated"
        if payload.get("kind") == "digest":
            msg["Subject"] = _clean_header(payload["subject"])
            msg.set_content(payload["body_text"], charset="utf-8")
            msg.add_alternative(payload["html"], subtype="html", charset="utf-8")
            html_part = msg.get_payload()[1]
            for image in payload.get("images", []):
                html_part.add_related(base64.b64decode(image["data"]), maintype="image",
                                      subtype=image.get("subtype", "png"), cid=f"<{image['cid']}>",
                                      filename=image.get("filename"), disposition="inline")
        else:
            text = str(payload.get("text", ""))
            msg["Subject"] = _clean_header(text.splitlines()[0] if text else "舆情哨兵提醒")
            msg.set_content(text, charset="utf-8")
        return msg

    # -- sending
    def _credentials(self) -> tuple[str | None, str | None]:
        values = []
        for env in (self.config.username_env, self.config.password_env):
            if not env:
                values.append(None)
                continue
            value = os.environ.get(env)
            if not value:  # the operator can set it and restart: the row waits and is retried
                raise DeliveryError(f"环境变量 {env} 未设置 (渠道 {self.config.name} 的 SMTP 凭据) (environment variable "
                                    f"{env} is not set)")
            values.append(value)
        return values[0], values[1]

    def _tls(self) -> ssl.SSLContext | None:
        if self.config.security == "none":
            return None
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else ssl.create_default_context()

    async def send(self, message: OutboxMessage) -> None:
        to = self.addresses(message)
        msg = self.build(message, to)
        username, password = self._credentials()
        recipients = [parseaddr(a)[1] for a in to]
        security = self.config.security
        try:
            await aiosmtplib.send(
                msg, sender=self.sender, recipients=recipients, hostname=self.config.host,
                port=self.config.smtp_port, username=username, password=password,
                use_tls=security == "ssl", start_tls=security == "starttls", tls_context=self._tls(),
                timeout=self.config.timeout.timedelta().total_seconds())
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise DeliveryError(f"SMTP 拒收收件人 (recipients refused): {exc}",
                                recoverable=all(400 <= c < 500 for c in codes)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.code}: {exc.message}", recoverable=400 <= exc.code < 500) from exc
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. no STARTTLS: never send in the clear instead
            raise DeliveryError(f"SMTP 服务器不支持 (server does not support): {exc}", recoverable=False) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
            raise DeliveryError(f"SMTP {type(exc).__name__}: {exc}") from exc


register("email")(EmailNotifier)
