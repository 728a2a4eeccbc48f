"""The two ways through Witaj, end to end in Chromium on a phone-size screen.

A newcomer asks the chat in Ukrainian for legal help, opens the city form it links, sends it, gets
the receipt, and follows the case with its reference and secret. A caseworker triages that case and
refers it to a partner with the client's consent, in one step; the partner accepts it; the newcomer
sees that a partner organisation has the case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from alembic import command
from playwright.sync_api import expect

from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.config import get_settings
from app.db import build_engine, session_factory
from app.main import create_app
from app.migrations import alembic_config
from app.partners import service as partner_service
from tests.browser import collect_console_errors, live_server
from tests.cases.fixtures import PARTNER_A

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
CASEWORKER = ("kasia@gup.example.org", "ways-through-caseworker")
PARTNER_STAFF = ("ola@przystan.example.org", "ways-through-partner")


@pytest.fixture(scope="module")
def city(browser, tmp_path_factory) -> Iterator[str]:
    """Serve the office, every partner of partners/, a caseworker and a partner A's staff member."""
    settings = get_settings().model_copy(update={"translation_backend": "none"})
    engine = build_engine(f"sqlite:///{tmp_path_factory.mktemp('ways') / 'site.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        with session_factory(engine)() as db:
            office = auth_service.ensure_organisation(
                db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
            )
            partners = {
                p.slug: auth_service.ensure_organisation(db=db, slug=p.slug, name=p.name, kind=OrgKind.partner)
                for p in partner_service.directory(settings).organisations.values()
            }
            for (email, password), role, org in (
                (CASEWORKER, Role.caseworker, office),
                (PARTNER_STAFF, Role.partner_staff, partners[PARTNER_A]),
            ):
                auth_service.create_user(
                    db=db, email=email, display_name=email.split("@")[0].title(), password=password,
                    role=role, organisation=org,
                )
            db.commit()
        with live_server(create_app(settings, engine)) as base:
            yield base
    finally:
        engine.dispose()


def sign_in(browser, base: str, who: tuple[str, str]):
    """Return a page of a staff member signed in on a phone, in English."""
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{base}/en/staff/login")
    page.locator("#f-email").fill(who[0])
    page.locator("#f-password").fill(who[1])
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/en/staff/")
    return page


def move(page, name: str, label: str) -> None:
    """Open the case page's action `name` and send it with the button labelled label."""
    action = page.locator("details.action").filter(has=page.locator(f"input[value={name}]"))
    action.locator("summary").click()
    action.get_by_role("button", name=label).click()


def test_a_newcomer_and_a_caseworker_on_their_phones(city, browser):
    newcomer = browser.new_context(locale="uk-UA", **PHONE)
    page = newcomer.new_page()
    errors = collect_console_errors(page, expected_statuses=(422,))  # the forgotten answer

    # The chat in Ukrainian links the city form of the topic.
    page.goto(f"{city}/uk/chat")
    page.locator("textarea[name=message]").fill("Мені потрібна юридична допомога з картою побуту")
    page.locator("#chat-form button[type=submit]").click()
    form_link = page.locator("a.chip-link").last
    form_link.wait_for()
    form_link.click()
    page.wait_for_url(re.compile(r".*/uk/forms/pomoc-organizacji"))

    # The form, on the phone; the kind of legal matter is left out at first.
    page.check("input[name=rodzaj_pomocy][value=prawna]")
    page.fill("#f-opis", "Отримала відмову в карті побуту, потрібна допомога з оскарженням рішення.")
    page.fill("#f-imie", "Олена")
    page.check("input[name=forma_kontaktu][value=email]")
    page.locator("#w-email").wait_for(state="visible")
    page.fill("#f-email", "olena@example.org")
    page.check("#f-zgoda_przekazanie")
    page.locator("button[name=_action][value=submit]").click()

    # A forgotten answer: the message is in Ukrainian, by its input, and nothing typed is lost.
    expect(page.locator("#e-dziedzina_prawna")).to_have_text("Це поле обов’язкове.")
    expect(page.locator("#f-imie")).to_have_value("Олена")
    expect(page.locator("#f-email")).to_have_value("olena@example.org")
    page.check("input[name=dziedzina_prawna][value=pobyt]")
    page.locator("button[name=_action][value=submit]").click()
    page.wait_for_url(re.compile(r".*/uk/forms/pomoc-organizacji/sent/.*"))
    content = page.content()
    reference = re.search(r"KRK-\d{4}-\d{6}", content).group(0)
    secret = page.locator("dl.codes dd code").nth(1).inner_text().strip()
    receipt = page.locator("#form-sent a[href$='.pdf']").get_attribute("href")
    got = newcomer.request.get(city + receipt)
    assert got.status == 200 and got.headers["content-type"] == "application/pdf"

    # Following the case from the confirmation: the reference is filled in, the secret typed.
    page.locator("#form-sent a[href*='/follow']").click()
    expect(page.locator("#f-reference")).to_have_value(reference)
    page.locator("#f-secret").fill(secret)
    page.locator("#follow form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/uk/follow/case"))
    expect(page.locator("main")).to_contain_text(reference)

    # The caseworker triages and refers to partner A, recording the consent in the same step.
    office = sign_in(browser, city, CASEWORKER)
    office.goto(f"{city}/en/staff/cases/{reference}")
    move(office, "triage", "Triage")
    refer = office.locator("details.action").filter(has=office.locator("input[value=refer]"))
    refer.locator("summary").click()
    consent = office.locator("#refer-consent")
    expect(consent.locator("legend")).to_contain_text("Fundacja Przystań")
    consent.get_by_label("The client agreed after I read them this text.").check()
    refer.get_by_role("button", name="Refer to a partner").click()
    expect(office.locator(".case-facts .badge")).to_have_text("Referred")

    # The partner sees the referral on its phone and accepts it.
    partner = sign_in(browser, city, PARTNER_STAFF)
    partner.goto(f"{city}/en/staff/cases/")
    partner.get_by_role("link", name=reference).click()
    move(partner, "accept", "Accept")
    expect(partner.locator(".case-facts .badge")).to_have_text("Accepted by partner")

    # The newcomer's page says a partner organisation has the case now.
    page.reload()
    expect(page.locator("main")).to_contain_text("Fundacja Przystań")
    scroll = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert scroll, "no sideways scrolling on the phone"
    assert errors == []
    for context in (newcomer, office.context, partner.context):
        context.close()
