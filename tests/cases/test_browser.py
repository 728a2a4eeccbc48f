"""The staff side in Chromium: the case page's contrast and keyboard focus, the referral that asks
for the consent it needs, and the inbox on a phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import select

from app.assistant.models import Conversation, ConversationMessage
from app.auth import service as auth_service
from app.auth.enums import OrgKind, Role
from app.cases import flows
from app.cases.enums import Source
from app.cases.events import Actor
from app.cases.models import CaseFile
from app.cases.schemas import CaseIn, ClientIn, TransitionIn
from app.config import get_settings
from app.db import build_engine, session_factory
from app.main import create_app
from app.migrations import alembic_config
from app.partners import service as partner_service
from tests.a11y import low_contrast_text, weak_focus
from tests.browser import collect_console_errors, live_server
from tests.cases.fixtures import PARTNER_B

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "kasia@gup.example.org", "browser-case-password"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def seed(db, settings) -> dict[str, str]:
    """The office, every partner of partners/, Kasia, and three triaged legal-aid cases: "chat" with
    Ukrainian messages, one not machine-translated yet, and the client's consent on file for partner B,
    "js" and "plain" to refer with and without JavaScript. Return their references by key."""
    office = auth_service.ensure_organisation(
        db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
    )
    for partner in partner_service.directory(settings).organisations.values():
        auth_service.ensure_organisation(db=db, slug=partner.slug, name=partner.name, kind=OrgKind.partner)
    kasia = auth_service.create_user(
        db=db, email=EMAIL, display_name="Kasia", password=PASSWORD, role=Role.caseworker, organisation=office
    )
    db.commit()
    actor = Actor.of(auth_service.principal_of(kasia))
    references = {}
    for key, language in (("chat", "uk"), ("js", "be"), ("plain", "ru")):
        case, _secret = flows.open_case(
            db=db,
            settings=settings,
            client=ClientIn(
                display_name="Olena K.",
                preferred_language=language,
                district="Nowa Huta",
                email="olena@example.org",
            ),
            case=CaseIn(
                category="legal_aid",
                subject=f"Karta pobytu ({key})",
                description="Odmowa.",
                source=Source.chat,
            ),
            actor=actor,
        )
        flows.transition(
            db=db, settings=settings, case=case, request=TransitionIn(name="triage"), actor=actor
        )
        flows.update_fields(
            db=db, settings=settings, case=case, actor=actor, expected_version=case.version, priority="high"
        )
        references[key] = case.reference
    chat_case = db.scalar(select(CaseFile).where(CaseFile.reference == references["chat"]))
    flows.record_consent(
        db=db,
        case=chat_case,
        organisation_slug=PARTNER_B,
        scope=["case"],
        language="uk",
        method="chat",
        actor=actor,
    )
    conversation = Conversation(
        channel="web", sender_id="browser-case", language="uk", mode="queued", state={}, case_id=chat_case.id
    )
    db.add(conversation)
    db.flush()
    db.add(
        ConversationMessage(
            conversation_id=conversation.id, author="user", text="Мені відмовили у карті", language="uk"
        )
    )
    translated = {"translations": {"pl": {"text": "Odmówiono mi karty"}}}  # machine-translated for Kasia
    db.add(
        ConversationMessage(
            conversation_id=conversation.id, author="user", text="Відмовили", language="uk", data=translated
        )
    )
    db.commit()
    return references


@pytest.fixture(scope="module")
def staff_site(browser, tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """Serve a fresh database holding seed() (no machine translation); yield its URL and the cases."""
    settings = get_settings().model_copy(update={"translation_backend": "none"})
    engine = build_engine(f"sqlite:///{tmp_path_factory.mktemp('staff') / 'site.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        with session_factory(engine)() as db:
            references = seed(db, settings)
        with live_server(create_app(settings, engine)) as base:
            yield base, references
    finally:
        engine.dispose()


def signed_in(browser, base: str, locale: str = "pl", javascript: bool = True, **options):
    """Return a new page of Kasia, signed in."""
    context = browser.new_context(java_script_enabled=javascript, **options)
    page = context.new_page()
    page.goto(f"{base}/{locale}/staff/login")
    page.locator("#f-email").fill(EMAIL)
    page.locator("#f-password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/{locale}/staff/")
    return page


def test_the_case_page_reads_well_and_shows_where_the_keyboard_is(staff_site, browser):
    """The note on a client's message not translated yet stands on the bubble's blue, every text meets
    AA contrast, every focus stop stands out at least 3:1, and each action toggle shows its arrow."""
    base, cases = staff_site
    page = signed_in(browser, base)
    page.goto(f"{base}/pl/staff/cases/{cases['chat']}")
    page.locator(
        "#chat .msg-user .msg-note"
    ).wait_for()  # "No machine translation yet: this is the original."
    page.locator("details.action").filter(has=page.locator("input[value=refer]")).locator("summary").click()
    assert low_contrast_text(page) == []
    assert weak_focus(page) == []
    arrows = page.evaluate(
        """() => [...document.querySelectorAll('details > summary')].map((s) => {
             const before = getComputedStyle(s, '::before');
             const widths = [before.borderInlineStartWidth, before.borderBlockStartWidth];
             const bordered = widths.map(parseFloat).some((w) => w > 0);
             const drawn = before.content !== 'none' && bordered;
             return [s.textContent.trim(), getComputedStyle(s).display === 'list-item' || drawn];
           })"""
    )
    assert len(arrows) >= 4 and all(shown for _text, shown in arrows), arrows
    page.context.close()


def test_referring_with_javascript_asks_for_the_consent_of_the_partner_chosen(staff_site, browser):
    from playwright.sync_api import expect

    base, cases = staff_site
    page = signed_in(browser, base, "en")
    errors = collect_console_errors(page)
    page.goto(f"{base}/en/staff/cases/{cases['js']}")
    refer = page.locator("details.action").filter(has=page.locator("input[value=refer]"))
    refer.locator("summary").click()
    consent = page.locator("#refer-consent")
    assert "Fundacja Przystań" in consent.locator("legend").inner_text()  # the best match, chosen
    page.evaluate("window.__samePage = true")
    refer.locator(f"input[value^='{PARTNER_B}/']").first.check()
    expect(consent.locator("legend")).to_contain_text("Prawo na Start")  # htmx brought B's consent part
    assert consent.locator("input[name=consent_for]").input_value() == PARTNER_B
    assert consent.locator(".consent-text[lang=be]").count() == 1  # the text to read, in Belarusian
    consent.get_by_label("They also agreed to share their name and contact details").check()
    consent.get_by_label("The client agreed after I read them this text.").check()
    refer.get_by_role("button", name="Refer to a partner").click()
    history = page.locator("ol.timeline")
    expect(history).to_contain_text("Consent recorded: share with Stowarzyszenie Prawo na Start")
    expect(history.locator("li").first).to_contain_text("Stowarzyszenie Prawo na Start (demo) —")
    assert page.locator(".case-facts .badge").inner_text() == "Referred"
    assert errors == []
    page.context.close()


def test_referring_without_javascript_never_records_consent_for_the_wrong_partner(staff_site, browser):
    """Without JavaScript the consent part shown is the first partner's: choosing another one and
    confirming asks again, for the one chosen, before anything is recorded."""
    from playwright.sync_api import expect

    base, cases = staff_site
    page = signed_in(browser, base, "en", javascript=False)
    page.goto(f"{base}/en/staff/cases/{cases['plain']}")
    refer = page.locator("details.action").filter(has=page.locator("input[value=refer]"))
    refer.locator("summary").click()
    refer.locator(f"input[value^='{PARTNER_B}/']").first.check()
    refer.get_by_label("The client agreed after I read them this text.").check()  # read for partner A
    refer.get_by_role("button", name="Refer to a partner").click()
    consent = page.locator("#refer-consent")
    expect(consent.locator("legend")).to_contain_text("Prawo na Start")
    expect(consent.locator(".error-message")).to_contain_text(
        "Read the client the consent text for this organisation"
    )
    assert page.locator(".case-facts .badge").inner_text() == "Triaged"  # nothing was recorded
    assert page.locator(".consents").count() == 0
    consent.get_by_label("The client agreed after I read them this text.").check()
    page.get_by_role("button", name="Refer to a partner").click()
    expect(page.locator(".case-facts .badge")).to_have_text("Referred")
    assert "Stowarzyszenie Prawo na Start (demo)" in page.locator(".consents").inner_text()
    page.context.close()


def test_the_inbox_on_a_phone_keeps_its_labels_and_big_enough_checkboxes(staff_site, browser):
    base, _cases = staff_site
    page = signed_in(browser, base, "uk", **PHONE)
    page.goto(f"{base}/uk/staff/cases/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for box in page.locator(".filters input[type=checkbox]").all():
        size = box.bounding_box()
        assert size["width"] >= 24 and size["height"] >= 24, size  # WCAG 2.5.8 target size
    headers = page.locator("table.cases thead th").all_text_contents()
    cells = page.evaluate(
        """() => [...document.querySelectorAll('table.cases tbody tr:first-child td')].map((td) => {
             const label = getComputedStyle(td, '::before').content;
             return [label, td.textContent.trim()];
           })"""
    )
    assert [label for label, _ in cells[1:]] == [f'"{h}"' for h in headers[1:]]  # each value named
    assert cells[4][1] in ("Українська", "Беларуская", "Русский")  # the language's name, not "BE"
    assert low_contrast_text(page) == []
    page.context.close()
