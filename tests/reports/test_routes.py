"""The dashboard (HTML and API) within each reader's scope, the open-data page and files, and small
cells that cannot be recovered from the published totals."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from app.auth import service as auth_service
from app.auth.enums import Role
from app.reports import publish, stats
from app.reports.suppress import protect_family
from app.reports.tables import HIDDEN

PASSWORD = "long enough password"
DECEMBER = datetime(2026, 12, 4, 9, tzinfo=UTC)


@pytest.fixture
def as_user(client, login, db, world):
    def sign_in(role, org):
        user = auth_service.create_user(
            db=db, email=f"{role.value}-{org.slug}@reports.example.org", display_name=role.value,
            password=PASSWORD, role=role, organisation=org,
        )
        db.commit()
        client.cookies.clear()
        assert login(user.email, PASSWORD, locale="en").status_code == 303
        return client

    return sign_in


def test_a_supervisor_sees_the_city_s_figures_as_charts_beside_tables(as_user, world, history):
    page = as_user(Role.supervisor, world.office).get("/en/staff/reports", params={"from": "2026-11", "to": "2026-11"})
    assert page.status_code == 200
    assert page.text.count('src="data:image/svg+xml;base64,') >= 4
    assert '<th scope="row">Legal help</th><td>2</td>' in page.text.replace("\n", "") or "legal" in page.text.lower()
    assert "Fundacja Przystań" in page.text and 'id="t-chat"' in page.text


def test_a_partner_admin_sees_only_its_own_organisation_s_figures(as_user, world, history):
    mine = as_user(Role.partner_admin, world.partner_a).get("/en/staff/reports", params={"from": "2026-11", "to": "2026-11"})
    assert mine.status_code == 200 and "Fundacja Przystań" in mine.text and 'id="t-chat"' not in mine.text
    theirs = as_user(Role.partner_admin, world.partner_b).get(
        "/en/staff/reports", params={"from": "2026-11", "to": "2026-11", "partner": "fundacja-przystan"}
    )
    assert theirs.status_code == 200
    assert "Fundacja Przystań" not in theirs.text and "No referrals in these months." in theirs.text


def test_a_caseworker_may_not_see_the_dashboard(as_user, world, history):
    assert as_user(Role.caseworker, world.office).get("/en/staff/reports").status_code == 403


def test_the_api_gives_a_partner_only_its_own_figures(client, db, world, history):
    headers = {}
    for name, org in (("office", world.office), ("a", world.partner_a), ("b", world.partner_b)):
        _, value = auth_service.create_api_token(db=db, organisation=org, name=f"stats {name}")
        headers[name] = {"Authorization": f"Bearer {value}"}
    db.commit()
    query = {"from": "2026-11", "to": "2026-11", "partner": "fundacja-przystan"}
    office = client.get("/api/v1/reports/figures", params=query, headers=headers["office"]).json()
    assert office["scope"] == "city" and {c["key"]: c["count"] for c in office["by_category"]} == {"legal_aid": 2}
    whole = client.get("/api/v1/reports/figures", params={"from": "2026-11", "to": "2026-11"}, headers=headers["office"]).json()
    assert sum(c["count"] for c in whole["by_category"]) == 3 and whole["handovers"] == 1
    a = client.get("/api/v1/reports/figures", params={"from": "2026-11", "to": "2026-11"}, headers=headers["a"]).json()
    assert a["scope"] == "fundacja-przystan" and {r["step"] for r in a["referrals"]} == {"referred", "accepted", "declined", "completed"}
    b = client.get("/api/v1/reports/figures", params=query, headers=headers["b"]).json()
    assert b["scope"] == "stowarzyszenie-prawo-na-start" and b["referrals"] == [] and b["by_category"] == []
    assert b["handovers"] == 0 and b["chat"] == [] and b["visits"] == []
    assert client.get("/api/v1/reports/figures", params={"from": "2026-13"}, headers=headers["a"]).status_code == 422


def test_the_open_data_page_lists_complete_months_and_serves_their_files(client, history, time_machine):
    time_machine.move_to(DECEMBER, tick=False)
    page = client.get("/uk/open-data")
    assert page.status_code == 200 and "2026-11" in page.text and "2026-10" in page.text
    assert 'href="/uk/open-data/2026-11/cases-by-category.csv"' in page.text
    rows = list(csv.DictReader(io.StringIO(client.get("/uk/open-data/2026-11/cases-by-category.csv").text)))
    # Two and one cases: both below 5, both published as "<5".
    assert [(r["category"], r["cases"]) for r in rows] == [("legal_aid", "<5"), ("work_permit", "<5")]
    assert client.get("/uk/open-data/2026-12/cases-by-category.csv").status_code == 404  # not over yet
    assert client.get("/uk/open-data/2026-11/secret.txt").status_code == 404


def test_a_publication_validates_and_is_the_same_twice(db, settings, history, tmp_path):
    first = publish.files(datasets=stats.release(db=db, settings=settings, period="2026-11"), period="2026-11", settings=settings)
    again = publish.files(datasets=stats.release(db=db, settings=settings, period="2026-11"), period="2026-11", settings=settings)
    assert first == again and {"datapackage.json", "catalog.rdf", "referrals.csv", "response-times.json"} <= set(first)
    publish.write(datasets=stats.release(db=db, settings=settings, period="2026-11"), period="2026-11", settings=settings, out=tmp_path)
    assert publish.validate_package(tmp_path / "datapackage.json") == []


def feasible(published: list, total: int, threshold: int) -> list[set[int]]:
    """Every value each cell can take, given the published cells and their total (an attacker's view)."""
    ranges = [
        range(1, threshold) if v == f"<{threshold}" else range(threshold, total + 1) if v == HIDDEN else range(v, v + 1)
        for v in published
    ]
    seen: list[set[int]] = [set() for _ in published]
    for combo in itertools.product(*ranges):
        if sum(combo) == total:
            for i, v in enumerate(combo):
                seen[i].add(v)
    return seen


@hsettings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.integers(1, 12), min_size=1, max_size=4), min_size=1, max_size=3))
def test_no_small_cell_can_be_recovered_from_the_totals(tables):
    # Tables of one family share one total: make them add up to the same number.
    total = max(sum(t) for t in tables)
    tables = [t[:-1] + [t[-1] + total - sum(t)] for t in tables]
    shown_tables = protect_family(tables, 5)
    # The reader knows the total only when some table of the family shows every cell as a number.
    if not any(all(isinstance(v, int) for v in p) for p in shown_tables):
        return
    for published, values in zip(shown_tables, tables, strict=True):
        for value, shown, options in zip(values, published, feasible(published, total, 5), strict=True):
            if shown == "<5":
                assert value < 5 and options == {1, 2, 3, 4}, (values, published)
            elif shown == HIDDEN:
                assert value >= 5
            else:
                assert shown == value and shown >= 5
