"""The public partner directory page: the same data routing uses, filtered and localized."""

from __future__ import annotations

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
