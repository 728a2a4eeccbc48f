"""Settings: working defaults, and one clear line for configuration that cannot work."""

from __future__ import annotations

import pytest

from app.config import DEV_SECRET_KEY, ConfigError, load_settings


def test_defaults_work_for_a_laptop(monkeypatch):
    for name in ("WITAJ_ENVIRONMENT", "WITAJ_SECRET_KEY", "WITAJ_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.environment == "development"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("var/witaj.db")
    assert settings.locales == ["pl", "uk", "ru", "en", "be"] and settings.default_locale == "pl"
    assert settings.time_zone == "Europe/Warsaw"


def test_default_secret_is_refused_outside_development():
    with pytest.raises(ConfigError) as caught:
        load_settings(environment="production", secret_key=DEV_SECRET_KEY)
    message = str(caught.value)
    assert "\n" not in message and "WITAJ_SECRET_KEY" in message


def test_locales_from_a_comma_list(monkeypatch):
    monkeypatch.setenv("WITAJ_LOCALES", "uk, pl")
    monkeypatch.setenv("WITAJ_DEFAULT_LOCALE", "uk")
    settings = load_settings()
    assert settings.locales == ["uk", "pl"] and settings.default_locale == "uk"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"locales": ["pl", "xx"]}, "no catalog"),
        ({"default_locale": "en", "locales": ["pl"]}, "default_locale"),
        ({"time_zone": "Mars/Olympus"}, "WITAJ_TIME_ZONE"),
        ({"port": 0}, "WITAJ_PORT"),
    ],
)
def test_broken_values_name_what_to_fix(overrides, fragment):
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
