"""The messengers Witaj speaks, by channel name: each a module of the adapter shape (see __init__)."""

from __future__ import annotations

from types import ModuleType

from app.assistant.channels import telegram, viber, whatsapp

MESSENGERS: dict[str, ModuleType] = {
    telegram.NAME: telegram,
    whatsapp.NAME: whatsapp,
    viber.NAME: viber,
}
