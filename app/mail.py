"""E-mail through SMTP (WITAJ_SMTP_*): plain text in UTF-8 (with an optional simple HTML alternative
made from the same text, every line escaped), sent with the standard library's smtplib over
STARTTLS, TLS or a local relay. Addresses and bodies are never logged; a failure is one
MailError whose text says what went wrong without them."""

from __future__ import annotations

import html
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


def html_of(text: str, *, language: str) -> str:
    """Return text as a simple HTML page: paragraphs at blank lines, lines kept, every line escaped,
    a line that is only an https:// address made a link."""
    paragraphs = []
    for block in text.split("\n\n"):
        lines = []
        for line in block.splitlines():
            shown = html.escape(line)
            if line.startswith("https://") and not any(c.isspace() for c in line):
                shown = f'<a href="{html.escape(line, quote=True)}">{shown}</a>'
            lines.append(shown)
        paragraphs.append("<p>" + "<br>\n".join(lines) + "</p>")
    lang = html.escape(language, quote=True)
    direction = "rtl" if language.split("-")[0] == "ar" else "ltr"
    return f'<!DOCTYPE html>\n<html lang="{lang}" dir="{direction}"><head><meta charset="utf-8"></head><body>\n' + "\n".join(paragraphs) + "\n</body></html>\n"


def build(*, settings: Settings, to: str, subject: str, text: str, language: str, with_html: bool = False) -> EmailMessage:
    """Return the message: From the settings, a Message-ID, the language in Content-Language; with
    with_html, the text also as a simple HTML alternative (html_of)."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2].strip("> ") or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a reminder
    message.set_content(text, charset="utf-8")
    if with_html:
        message.add_alternative(html_of(text, language=language), subtype="html", charset="utf-8")
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
