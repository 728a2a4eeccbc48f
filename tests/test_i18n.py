"""Locale negotiation, catalogs in use, and locale-aware formatting."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app import i18n
from app.i18n import negotiate, parse_accept_language, use_locale

ENABLED = ["pl", "uk", "ru", "en", "be"]


def choose(path=None, cookie=None, accept=None):
    return negotiate(path_locale=path, cookie_locale=cookie, accept_language=accept, enabled=ENABLED, default="pl")


def test_url_prefix_wins_over_cookie_and_header():
    assert choose(path="uk", cookie="ru", accept="en") == "uk"


def test_cookie_wins_over_accept_language():
    assert choose(cookie="be", accept="en-GB,en;q=0.9") == "be"


def test_accept_language_quality_and_region_tags():
    assert choose(accept="de-DE,de;q=0.9,ru-RU;q=0.8,en;q=0.7") == "ru"
    assert choose(accept="en;q=0.2, uk-UA;q=0.9") == "uk"
    assert choose(accept="uk;q=0") == "pl"


def test_unknown_values_fall_back_to_default():
    assert choose(path="xx", cookie="de", accept="fr-FR, *;q=0.1") == "pl"
    assert choose(accept="garbage;;;,,q=") == "pl"


def test_parse_accept_language_orders_by_quality_then_position():
    assert parse_accept_language("ru;q=0.5, en, uk;q=0.5") == ["en", "ru", "uk"]


@pytest.mark.parametrize("code", ["pl", "uk", "ru", "be"])
def test_catalogs_translate_interface_strings(code):
    with use_locale(code):
        translated = i18n.gettext("Staff sign-in")
    assert translated and translated != "Staff sign-in"


def test_plural_forms_follow_each_language():
    forms = {}
    for code in ("uk", "pl"):
        with use_locale(code):
            forms[code] = [
                i18n.ngettext(
                    "Too many failed attempts. Sign-in is locked for %(num)d minute.",
                    "Too many failed attempts. Sign-in is locked for %(num)d minutes.",
                    n,
                )
                for n in (1, 3, 5)
            ]
    for code, texts in forms.items():
        assert len(set(t.replace(str(n), "N") for t, n in zip(texts, (1, 3, 5), strict=True))) == 3, (code, texts)


def test_dates_and_numbers_use_the_locale():
    moment = datetime(2026, 3, 8, 17, 30, tzinfo=UTC)
    with use_locale("pl"):
        pl_date, pl_number = i18n.format_date(date(2026, 3, 8), "long"), i18n.format_number(1234567.5)
        pl_time = i18n.format_datetime(moment, "short")
    with use_locale("en"):
        en_date, en_number = i18n.format_date(date(2026, 3, 8), "long"), i18n.format_number(1234567.5)
    assert "marca" in pl_date and "March" in en_date
    assert pl_number == "1\xa0234\xa0567,5" and en_number == "1,234,567.5"
    assert "18:30" in pl_time  # 17:30 UTC is 18:30 in Kraków in March (CET)


def test_text_direction():
    assert i18n.text_direction("ar") == "rtl"
    assert i18n.text_direction("uk") == "ltr"


class TestLocaleRoutes:
    def test_bare_root_redirects_to_negotiated_language(self, client):
        response = client.get("/", headers={"Accept-Language": "be-BY,be;q=0.9"}, follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == "/be/"
        assert "Accept-Language" in response.headers["vary"]

    def test_prefix_without_slash_redirects(self, client):
        response = client.get("/uk", follow_redirects=False)
        assert response.status_code == 308
        assert response.headers["location"] == "/uk/"

    @pytest.mark.parametrize("code", ["pl", "uk", "ru", "en", "be"])
    def test_landing_page_in_each_language(self, client, code):
        response = client.get(f"/{code}/")
        assert response.status_code == 200
        assert f'<html lang="{code}" dir="ltr">' in response.text
        assert response.headers["content-language"] == code
        with use_locale(code):
            heading = i18n.gettext("How we can help")
        assert heading in response.text

    def test_prefix_choice_is_remembered_in_a_cookie(self, client):
        client.get("/ru/")
        assert client.cookies.get("witaj_locale") == "ru"
        page = client.get("/staff/login", headers={"Accept-Language": "en"})
        assert '<html lang="ru"' in page.text

    def test_links_keep_the_locale_prefix(self, client):
        page = client.get("/uk/").text
        assert 'href="/uk/staff/login"' in page
        assert 'href="/static/css/witaj.css?v=' in page  # static files are shared, not per language

    def test_language_switcher_points_to_same_page(self, client):
        page = client.get("/uk/staff/login").text
        assert 'href="/pl/staff/login"' in page and 'href="/be/staff/login"' in page
        assert 'aria-current="true">Українська' in page
