"""Following a case in Chromium on a phone, without JavaScript: from the home page to the case and
back to hidden, in Ukrainian."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from axe_playwright_python.sync_playwright import Axe

from app.assistant.models import Conversation, ConversationMessage
from app.auth import service as auth_service
from app.auth.enums import OrgKind
from app.cases import flows
from app.cases.events import CLIENT
from app.cases.schemas import CaseIn, ClientIn
from app.config import get_settings
from app.db import build_engine, session_factory
from app.i18n import gettext, use_locale
from app.main import create_app
from app.migrations import alembic_config
from tests.browser import collect_console_errors, live_server

pytestmark = pytest.mark.browser
#: The rules of WCAG 2.1 levels A and AA (as tests/test_accessibility.py runs them).
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def uk(message: str) -> str:
    with use_locale("uk"):
        return gettext(message)


@pytest.fixture(scope="module")
def site_with_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """Serve a fresh database holding one case; yield (base URL, case number, secret)."""
    settings = get_settings()
    engine = build_engine(f"sqlite:///{tmp_path_factory.mktemp('follow') / 'site.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        with session_factory(engine)() as db:
            auth_service.ensure_organisation(
                db=db, slug=settings.office_slug, name=settings.office_name, kind=OrgKind.office
            )
            db.commit()
            case, secret = flows.open_case(
                db=db,
                settings=settings,
                client=ClientIn(display_name="Olena", preferred_language="uk", district="Nowa Huta"),
                case=CaseIn(category="library", subject="Читацький квиток", description=""),
                actor=CLIENT,
            )
            reference = case.reference
            # A caseworker's message in Polish, machine-translated into Ukrainian, for the page to show.
            chat = Conversation(
                channel="web", sender_id="follow-browser", language="uk", mode="human", case_id=case.id
            )
            db.add(chat)
            db.flush()
            translated = {
                "uk": {"text": "Будь ласка, принесіть паспорт", "engine": "t", "model_version": "1"}
            }
            db.add(
                ConversationMessage(
                    conversation_id=chat.id,
                    author="staff",
                    text="Proszę przynieść paszport",
                    language="pl",
                    data={"translations": translated},
                )
            )
            db.commit()
        with live_server(create_app(settings, engine)) as base:
            yield base, reference, secret
    finally:
        engine.dispose()


def test_follow_a_case_on_a_phone_without_javascript(site_with_case, browser):
    site, reference, secret = site_with_case
    context = browser.new_context(
        java_script_enabled=False, locale="uk-UA", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    errors = collect_console_errors(page, expected_statuses=(422,))
    page.goto(site + "/uk/")
    page.get_by_role("link", name=uk("Follow your case")).click()
    page.wait_for_url(site + "/uk/follow")

    page.get_by_role("button", name=uk("Show my case")).click()  # nothing typed yet
    page.wait_for_load_state()
    summary = page.get_by_role("alert")
    summary.get_by_role("link", name=uk("Enter your case number.")).click()
    assert page.evaluate("document.activeElement.id") == "f-reference"  # the summary leads to the field

    page.get_by_label(uk("Case number")).fill(reference.lower())
    page.get_by_label(uk("Secret code")).fill(secret.replace("-", " ").lower())
    page.get_by_role("button", name=uk("Show my case")).click()
    page.wait_for_url(site + "/uk/follow/case")
    assert page.get_by_role("heading", level=1).inner_text().startswith(uk("Your case"))
    assert page.get_by_text(uk("We have received your request")).is_visible()
    assert page.locator('.follow-steps [aria-current="step"]').inner_text() == uk("Received")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    assert secret not in page.url and secret not in page.content()

    page.get_by_role("button", name=uk("Hide my case on this device")).click()
    page.wait_for_url(site + "/uk/follow?notice=ended")
    assert page.get_by_text(uk("Your case is no longer shown on this device.")).is_visible()
    page.goto(site + "/uk/follow/case")
    assert page.url == site + "/uk/follow"  # hidden: the codes are needed again
    assert errors == []
    context.close()


def test_the_form_with_errors_and_the_case_have_no_accessibility_violation(site_with_case, browser):
    """axe-core in Chromium, on a phone: the form as a failed send leaves it, and the case with a message."""
    site, reference, secret = site_with_case
    context = browser.new_context(locale="uk-UA", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    axe = Axe()
    found = []

    def check(where: str) -> None:
        violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
        found.extend(
            f"{where}: {v['id']} ({v['impact']})"
            for v in violations
            if v["impact"] in ("serious", "critical")
        )

    page.goto(site + "/uk/follow")
    page.get_by_label(uk("Case number")).fill(reference)
    page.get_by_label(uk("Secret code")).fill("AAAA-BBBB-CCCC-DDDD")
    page.get_by_role("button", name=uk("Show my case")).click()
    page.get_by_role("alert").wait_for()
    check("the form after wrong codes")
    page.get_by_label(uk("Secret code")).fill(secret)
    page.get_by_role("button", name=uk("Show my case")).click()
    page.wait_for_url(site + "/uk/follow/case")
    page.get_by_text("Будь ласка, принесіть паспорт").wait_for()
    page.locator(".msg-original summary").click()  # the original, opened
    check("the case with a message")
    assert found == []
    context.close()
