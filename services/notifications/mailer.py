"""Email transports: SMTP (STARTTLS, implicit TLS or plain, with an optional login) and a
local one that logs each message and writes it as an .eml file (the `make run` default).

smtplib runs on eventlet's green sockets (the processes are monkey-patched), TLS included,
so a slow mail server holds one green thread, never the hub.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol

import eventlet

from common.db import utcnow

log = logging.getLogger(__name__)

_CRLF = compat32.clone(linesep="\r\n")  # SMTP's line ends (smtplib sends bytes as they are)


@dataclass(frozen=True)
class Outgoing:
    id: int
    to_address: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    attempt: int = 0  # which attempt this claim is (tells a stale claim from a newer one)


@dataclass(frozen=True)
class Outcome:
    sent: bool
    error: str | None = None
    permanent: bool = False  # the server refused this message for good (5xx): no retry


def new_message_id(sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "clusterxchange.eu"
    return make_msgid(domain=domain)


def build_message(outgoing: Outgoing, sender: str) -> bytes:
    """multipart/alternative, plain text then HTML, UTF-8. (The compat32 MIME classes: the
    modern EmailMessage API costs about four times the CPU per message.)"""
    message = MIMEMultipart("alternative")
    message["From"] = sender
    message["To"] = outgoing.to_address
    subject = outgoing.subject
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["Date"] = format_datetime(utcnow())
    # Fixed when the message was queued: a copy sent again after a crash carries the same
    # Message-ID, so mail clients and servers can tell it is the same message.
    message["Message-ID"] = outgoing.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText(outgoing.text_body, "plain", "utf-8"))
    message.attach(MIMEText(outgoing.html_body, "html", "utf-8"))
    return message.as_bytes(policy=_CRLF)


class Transport(Protocol):
    def send(self, batch: list[Outgoing]) -> dict[int, Outcome]: ...


class SmtpTransport:
    def __init__(self, settings: dict[str, Any], sender: str) -> None:
        self.host = settings["host"]
        self.port = int(settings["port"])
        self.security = settings.get("security", "starttls")
        self.username = settings.get("username") or ""
        self.password = settings.get("password") or ""
        self.timeout = float(settings.get("timeout_seconds", 20))
        self.connections = max(1, int(settings.get("connections", 4)))
        self.sender = sender
        self.envelope_from = parseaddr(sender)[1]
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"SMTP_SECURITY must be none, starttls or tls, not {self.security!r}")
        self._context: ssl.SSLContext | None = None

    def tls_context(self) -> ssl.SSLContext:
        """One per transport: building it loads the system's CA certificates, which cost
        about a tenth of notifications' CPU when it was built for every connection."""
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                    context=self.tls_context())
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                client.starttls(context=self.tls_context())
        if self.username:
            client.login(self.username, self.password)
        return client

    def send(self, batch: list[Outgoing]) -> dict[int, Outcome]:
        """The batch over up to `connections` connections at once (green threads)."""
        shares = [batch[n::self.connections] for n in range(self.connections) if batch[n::self.connections]]
        outcomes: dict[int, Outcome] = {}
        for found in eventlet.GreenPool(len(shares)).imap(self._send_over_one_connection, shares):
            outcomes.update(found)
        return outcomes

    def _send_over_one_connection(self, batch: list[Outgoing]) -> dict[int, Outcome]:
        """Each message in turn; a connection that fails leaves the rest unsent (retried later)."""
        outcomes: dict[int, Outcome] = {}
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            error = f"connect: {exc.__class__.__name__}: {exc}"
            return {item.id: Outcome(False, error[:500]) for item in batch}
        try:
            for item in batch:
                outcomes[item.id] = self._send_one(client, item)
                if not outcomes[item.id].sent and not outcomes[item.id].permanent:
                    break  # the connection is likely gone: leave the rest for the next round
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        for item in batch:
            outcomes.setdefault(item.id, Outcome(False, "not attempted: the connection failed"))
        return outcomes

    def _send_one(self, client: smtplib.SMTP, item: Outgoing) -> Outcome:
        try:
            refused = client.sendmail(self.envelope_from, [item.to_address],
                                      build_message(item, self.sender))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return Outcome(False, f"recipient refused: {exc.recipients}"[:500],
                           permanent=all(500 <= code < 600 for code in codes))
        except smtplib.SMTPResponseException as exc:
            return Outcome(False, f"{exc.smtp_code} {exc.smtp_error!r}"[:500],
                           permanent=500 <= exc.smtp_code < 600)
        except (OSError, smtplib.SMTPException) as exc:
            return Outcome(False, f"{exc.__class__.__name__}: {exc}"[:500])
        if refused:
            return Outcome(False, f"recipient refused: {refused}"[:500], permanent=True)
        return Outcome(True)


class FileTransport:
    """Nothing leaves the machine: each message is logged and kept as <mail_dir>/<id>.eml."""

    def __init__(self, mail_dir: str | Path, sender: str) -> None:
        self.mail_dir = Path(mail_dir)
        self.sender = sender

    def send(self, batch: list[Outgoing]) -> dict[int, Outcome]:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        outcomes = {}
        for item in batch:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", item.message_id.strip("<>")) + ".eml"
            path = self.mail_dir / name
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(build_message(item, self.sender))
            os.replace(temporary, path)
            log.info("email to %s: %s (kept in %s)", item.to_address, item.subject, path)
            outcomes[item.id] = Outcome(True)
        return outcomes


def transport_from(settings: dict[str, Any]) -> Transport:
    sender = settings["email_from"]
    if settings.get("email_transport", "file") == "smtp":
        return SmtpTransport(settings["smtp"], sender)
    return FileTransport(settings["mail_dir"], sender)
