"""Settings from WITAJ_* environment variables (and an optional .env file), with laptop defaults."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.languages import KNOWN_LOCALES

#: The development secret. Refused by `Settings` outside development.
DEV_SECRET_KEY = "dev-insecure-change-me"

#: The repository root: the default place of the content folders and of var/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The staff roles (app.auth.enums.Role's values; the enum imports i18n, which reads these settings).
STAFF_ROLES = ("caseworker", "supervisor", "admin", "content_editor", "partner_staff", "partner_admin")

#: A host name with at least two labels ("krakow.pl"): what WITAJ_CHAT_LINK_HOSTS lists.
HOST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")



class ConfigError(Exception):
    """Configuration that cannot work; the message says what to fix."""


class Settings(BaseSettings):
    """Everything Witaj reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="WITAJ_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'witaj.db'}",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: str = DEV_SECRET_KEY
    data_key: str | None = Field(
        default=None,
        description="Fernet key that encrypts personal data at rest; derived from the secret key in development",
    )
    locales: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(KNOWN_LOCALES))
    default_locale: str = "pl"
    content_dir: Path = PROJECT_ROOT
    locales_dir: Path | None = None
    templates_dir: Path | None = None
    time_zone: str = "Europe/Warsaw"
    city_name: str = "Kraków"
    office_name: str = "Grodzki Urząd Pracy w Krakowie"
    office_slug: str = "gup-krakow"
    case_reference_prefix: str = "KRK"
    session_idle_minutes: int = Field(default=120, ge=5)
    session_max_hours: int = Field(default=12, ge=1)
    login_max_failures: int = Field(
        default=5, ge=1, description="failed sign-ins in a row for one e-mail address from one client address"
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, description="the first pause after them; each further one doubles (at most a day)"
    )
    two_factor_roles: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("admin", "supervisor"),
        description="roles that must sign in with a second factor (TOTP); anyone else may turn it on",
    )
    secure_cookies: bool = False
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=64 * 1024, description="largest request body of a form (413 above it)"
    )
    max_json_bytes: int = Field(
        default=1024 * 1024, ge=64 * 1024, description="largest request body of JSON or anything not a form"
    )
    jobs_interval_seconds: int = Field(default=60, ge=0)
    models_dir: Path | None = None
    evaluation_report: Path = Field(
        default=PROJECT_ROOT / "var" / "evaluation.json",
        description="the JSON report of `witaj dialogues evaluate` (the HTML report is written beside it), "
        "shown to editors at /staff/assistant/scores",
    )
    translation_backend: Literal["argos", "libretranslate", "none"] = "argos"
    argos_data_dir: Path = PROJECT_ROOT / "var" / "argos"
    libretranslate_url: str = "http://127.0.0.1:5000"
    libretranslate_api_key: str | None = None
    translation_timeout_seconds: float = Field(default=10.0, gt=0)
    translation_wait_seconds: float = Field(default=2.0, ge=0)
    translation_cache_entries: int = Field(default=4096, ge=0)
    chat_link_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("krakow.pl", "gov.pl", "krakowculture.pl"),
        description="hosts (with subdomains) whose https addresses the assistant's answers show as links",
    )
    assistant_backend: Literal["builtin", "rasa"] = "builtin"
    rasa_url: str = "http://127.0.0.1:5005"
    public_url: str | None = Field(
        default=None,
        description="the address people open Witaj at (https://witaj.krakow.pl): city forms' links in messenger answers",
    )
    # Messenger channels: each is off unless all its settings without a default are given
    # (`witaj channels status` says which are on and what is missing).
    telegram_bot_token: str | None = Field(default=None, description="the token @BotFather gave")
    telegram_webhook_secret: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$",
        description="the secret_token set with setWebhook; Telegram sends it in X-Telegram-Bot-Api-Secret-Token",
    )
    telegram_api_url: str = "https://api.telegram.org"
    whatsapp_access_token: str | None = Field(default=None, description="a system user's token for the Cloud API")
    whatsapp_app_secret: str | None = Field(default=None, description="the Meta app's secret: signs X-Hub-Signature-256")
    whatsapp_verify_token: str | None = Field(default=None, description="the verify token typed into the webhook's setup")
    whatsapp_phone_number_id: str | None = Field(default=None, description="the business phone number's id")
    whatsapp_api_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_template: str | None = Field(
        default=None,
        description="an approved template with one body parameter: a caseworker's reply after the 24-hour window",
    )
    viber_auth_token: str | None = Field(default=None, description="the bot's token from the Viber Admin Panel")
    viber_api_url: str = "https://chatapi.viber.com/pa"
    viber_bot_name: str = Field(default="Witaj", max_length=28)
    channel_timeout_seconds: float = Field(default=10.0, gt=0, description="how long a messenger's API may take")
    smtp_host: str | None = Field(
        default=None, description="the SMTP server that sends e-mail (visit reminders); none: no e-mail is sent"
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (port 587), tls (port 465) or none (a relay on the same machine)"
    )
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = Field(default="Witaj <no-reply@witaj.example>", description="the From of e-mail Witaj sends")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    appointment_retention_days: int = Field(
        default=90, ge=1, description="days after a visit when the person's name and contact are erased"
    )
    content_read_only: bool = Field(
        default=False,
        description="the content folder is not written by the app (a deployment from git): the review queue "
        "offers a labelled example as a patch instead of saving it",
    )
    conversation_retention_days: int = Field(
        default=90, ge=1, le=3650,
        description="days after its last message when a chat (unless a person still handles it), its ratings and "
        "its review-queue items are deleted",
    )
    review_confidence: float = Field(
        default=0.75, ge=0.0, le=1.0,
        description="an answer given with less confidence than this goes to the content editors' review queue "
        "(when the newcomer agreed)",
    )
    open_data_min_count: int = Field(
        default=5, ge=2, le=100,
        description="a count of people below this is published as '<N' (with secondary suppression)",
    )
    open_data_licence: str = Field(
        default="https://creativecommons.org/licenses/by/4.0/",
        pattern=r"^https?://\S+$", description="the URL of the open data's licence (CC BY 4.0 by default)",
    )
    open_data_licence_title: str = Field(default="CC BY 4.0", max_length=80)
    open_data_publisher: str = Field(
        default="Gmina Miejska Kraków", max_length=200, description="who publishes the open data"
    )
    open_data_contact: str = Field(
        default="mailto:witaj@example.org", pattern=r"^(mailto:|https?://)\S+$",
        description="where questions about the open data go (a mailto: or web address)",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    chat_threads: int = Field(
        default=1, ge=1, le=64, description="chat turns one server process runs at once (more processes: workers)"
    )
    access_log: bool = Field(
        default=False,
        description="uvicorn's line per request; off by default: paths and queries can carry personal data",
    )

    @field_validator("locales", mode="before")
    @classmethod
    def _split_locales(cls, value: object) -> object:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                import json

                return json.loads(stripped)
            return [part.strip() for part in stripped.split(",") if part.strip()]
        return value

    @field_validator("two_factor_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple | set | frozenset):
            unknown = sorted({str(role) for role in value} - set(STAFF_ROLES))
            if unknown:
                known = ", ".join(STAFF_ROLES)
                raise ValueError(f"unknown role(s) {', '.join(unknown)}; choose from {known}")
            return tuple(dict.fromkeys(str(role) for role in value))
        return value

    @field_validator("chat_link_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple | set | frozenset):
            hosts = [str(host).strip().lower().removeprefix("*.").strip(".") for host in value]
            hosts = [host for host in hosts if host]
            wrong = [host for host in hosts if not HOST_NAME.match(host)]
            if wrong:
                raise ValueError(f"not a host name: {', '.join(wrong)} (write krakow.pl, without https://)")
            return tuple(dict.fromkeys(hosts))
        return value

    @field_validator("time_zone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Warsaw)") from exc
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        unknown = [code for code in self.locales if code not in KNOWN_LOCALES]
        if unknown:
            raise ValueError(f"locales {unknown} have no catalog; choose from {list(KNOWN_LOCALES)}")
        if not self.locales:
            raise ValueError("at least one locale must be enabled")
        if self.default_locale not in self.locales:
            raise ValueError(f"default_locale {self.default_locale!r} is not among locales {self.locales}")
        if self.environment != "development" and self.secret_key == DEV_SECRET_KEY:
            raise ValueError(
                "the development secret key is refused outside development: set WITAJ_SECRET_KEY "
                "to a long random value (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.environment == "production" and not self.data_key:
            raise ValueError(
                "WITAJ_DATA_KEY is required in production (generate one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            )
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("WITAJ_SECRET_KEY must be at least 32 characters in production")
        if self.environment == "production" and not self.secure_cookies:
            raise ValueError(
                "WITAJ_SECURE_COOKIES must be true in production: serve Witaj over HTTPS, so that "
                "session and CSRF cookies never travel in clear text"
            )
        return self

    @property
    def locale_path(self) -> Path:
        """Folder of the gettext catalogs."""
        return self.locales_dir or self.content_dir / "locales"

    @property
    def template_path(self) -> Path:
        """Folder of the Jinja2 templates."""
        return self.templates_dir or self.content_dir / "templates"

    @property
    def zone(self) -> ZoneInfo:
        """The office's time zone."""
        return ZoneInfo(self.time_zone)


def load_settings(**overrides: object) -> Settings:
    """Return validated settings or raise ConfigError with one line that says what to fix."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"])
            name = f"WITAJ_{field.upper()}" if field else "settings"
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
        raise ConfigError("configuration error: " + "; ".join(problems)) from None


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached)."""
    return load_settings()
