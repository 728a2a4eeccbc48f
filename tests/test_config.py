"""Settings: working defaults, and one clear line for configuration that cannot work."""

from __future__ import annotations

import pytest

from app.config import DEV_SECRET_KEY, ConfigError, load_settings
from app.languages import KNOWN_LOCALES


def test_defaults_work_for_a_laptop(monkeypatch):
    for name in ("WITAJ_ENVIRONMENT", "WITAJ_SECRET_KEY", "WITAJ_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.environment == "development"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("var/witaj.db")
    assert settings.locales == list(KNOWN_LOCALES) and settings.default_locale == "pl"
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


def _production(**overrides):
    values = {
        "environment": "production",
        "secret_key": "a-production-secret-that-is-long-enough-0123456789",
        "data_key": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        "secure_cookies": True,
        "_env_file": None,
    }
    return load_settings(**{**values, **overrides})


def test_production_refuses_cookies_that_travel_in_clear_text():
    assert _production().secure_cookies is True
    with pytest.raises(ConfigError) as caught:
        _production(secure_cookies=False)
    message = str(caught.value)
    assert "WITAJ_SECURE_COOKIES" in message and "\n" not in message
    development = load_settings(environment="development", secure_cookies=False, _env_file=None)
    assert development.secure_cookies is False


def test_body_limits_have_sensible_defaults_and_refuse_tiny_values():
    settings = load_settings(_env_file=None)
    assert settings.max_json_bytes == 1024 * 1024 and settings.max_body_bytes == 4 * 1024 * 1024
    with pytest.raises(ConfigError) as caught:
        load_settings(max_body_bytes=10, _env_file=None)
    assert "WITAJ_MAX_BODY_BYTES" in str(caught.value)


def test_two_factor_roles_default_to_admins_and_supervisors_and_refuse_unknown_names(monkeypatch):
    monkeypatch.delenv("WITAJ_TWO_FACTOR_ROLES", raising=False)
    assert load_settings(_env_file=None).two_factor_roles == ("admin", "supervisor")
    monkeypatch.setenv("WITAJ_TWO_FACTOR_ROLES", " caseworker, admin ,partner_admin")
    assert load_settings(_env_file=None).two_factor_roles == ("caseworker", "admin", "partner_admin")
    monkeypatch.setenv("WITAJ_TWO_FACTOR_ROLES", "")
    assert load_settings(_env_file=None).two_factor_roles == ()  # nobody must; anyone may
    monkeypatch.setenv("WITAJ_TWO_FACTOR_ROLES", "admin,superuser")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert "WITAJ_TWO_FACTOR_ROLES" in message and "superuser" in message and "\n" not in message
