"""E-mail through SMTP (WITAJ_SMTP_*): plain text in UTF-8, sent with the standard library's smtplib
over STARTTLS, TLS or a local relay. Addresses and bodies are never logged; a failure is one
MailError whose text says what went wrong without them."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from app.config import Settings


class MailError(Exception):
    """The message was not accepted by the SMTP server (it may be retried later)."""


def configured(settings: Settings) -> bool:
    """Return whether e-mail can be sent (WITAJ_SMTP_HOST is set)."""
    return bool(settings.smtp_host)


def build(*, settings: Settings, to: str, subject: str, text: str, language: str) -> EmailMessage:
    """Return the message: From the settings, a Message-ID, the language in Content-Language."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2].strip("> ") or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a reminder
    message.set_content(text, charset="utf-8")
    message["Content-Language"] = language  # after set_content, which replaces the Content-* headers
    return message


def send(settings: Settings, message: EmailMessage) -> None:
    """Send message through the configured SMTP server; raise MailError on any failure."""
    if not settings.smtp_host:
        raise MailError("no SMTP server is configured (WITAJ_SMTP_HOST)")
    timeout = settings.smtp_timeout_seconds
    try:
        if settings.smtp_security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            client.send_message(message)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        # The class and the SMTP code only: the server's text may quote the address.
        code = getattr(exc, "smtp_code", None)
        raise MailError(f"SMTP: {type(exc).__name__}{f' {code}' if code else ''}") from None
