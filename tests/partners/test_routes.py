"""The public partner directory page: the same data routing uses, filtered and localized."""

from __future__ import annotations

from markupsafe import escape

from app.i18n import gettext, use_locale
from app.partners import service


def test_directory_lists_every_partner_without_filters(client, settings):
    page = client.get("/en/partners")
    assert page.status_code == 200
    for org in service.directory(settings).organisations.values():
        assert org.name in page.text


def test_filters_narrow_by_category_language_and_district(client, settings):
    directory = service.directory(settings)
    page = client.get("/en/partners", params={"category": "housing", "language": "uk", "district": "Nowa Huta"})
    expected = {s.organisation_slug for s in directory.filter(category="housing", language="uk", district="Nowa Huta")}
    assert expected
    for org_id, org in directory.organisations.items():
        assert (org.name in page.text) == (org_id in expected), org_id


def test_unknown_filter_values_are_ignored_not_errors(client):
    assert client.get("/en/partners", params={"category": "x", "language": "zz", "district": "Atlantis"}).status_code == 200


def test_page_is_localized_with_day_names(client):
    page = client.get("/uk/partners")
    with use_locale("uk"):
        assert gettext("Organisations that help") in page.text
    assert "понеділок" in page.text.lower()


def test_htmx_gets_only_the_results(client):
    page = client.get("/en/partners", params={"category": "legal_aid"}, headers={"HX-Request": "true", "HX-Target": "results"})
    assert page.text.lstrip().startswith('<div id="results">')


def test_location_names_are_shown_in_the_readers_language(client, settings):
    """Places are named in English in partners/ ("Main office") and translated like service names."""
    organisations = service.directory(settings).organisations.values()
    locations = [location for org in organisations for location in org.locations.values()]
    for code in ("uk", "pl", "be"):
        page = client.get(f"/{code}/partners")
        with use_locale(code):
            for location in locations:
                translated = gettext(location.name)
                assert translated != location.name, (code, location.name)  # every catalog names them
                assert str(escape(translated)) in page.text
                assert f"<strong>{escape(location.name)}</strong>" not in page.text


def test_each_organisation_is_a_few_lines_with_its_details_one_tap_away(client, settings):
    directory = service.directory(settings)
    page = client.get("/en/partners")
    assert page.text.count('<details class="partner-more">') == len(directory.organisations)

    def partners_of(category: str, language: str) -> set[str]:
        found = directory.filter(category=category, language=language, district=None)
        return {s.organisation_slug for s in found}

    category, language = next(
        (category, language)
        for category in sorted({c for s in directory.services.values() for c in s.categories})
        for language in ("uk", "be", "ru", "en")
        if len(partners_of(category, language)) == 1
    )
    alone = client.get("/en/partners", params={"category": category, "language": language})
    assert alone.text.count('class="panel partner"') == 1
    assert '<details class="partner-more" open>' in alone.text  # the one result is shown whole
