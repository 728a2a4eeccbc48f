"""axe-core on every public and staff page, in Polish (the wording everything is written in) and in
Arabic (a translation, right to left, in another script), on a desktop and a phone: no violation of
impact serious or critical (WCAG 2.1 A and AA rules).

axe-core comes with axe-playwright-python (its licence, MPL-2.0, ships in the wheel); it runs inside
Debian's Chromium through Playwright. Each page is checked at a desktop's and at a phone's width, in
the state people meet it in: the chat after an answer with quick replies, a city form after a send
with errors, and the pages reached only by doing something (a saved draft, a sent form, a case
followed with its codes, a case just opened, the second factor's set-up, a partner's referral).
"""

from __future__ import annotations

import json
import re
import time

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe

from app.assistant import evaluation
from app.auth.enums import Role
from app.config import get_settings
from tests.assistant.test_evaluation import crafted
from tests.browser import SiteSpec
from tests.cases.fixtures import PARTNER_A

pytestmark = pytest.mark.browser
PASSWORD = "accessibility-test-password"  # noqa: S105 - the test site's accounts
LANGUAGES = ("pl", "ar")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
#: The rules of WCAG 2.1 levels A and AA; impact serious or critical fails the test.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
FAILING_IMPACTS = ("serious", "critical")
#: Runs axe in the page and hands back only what fails, one short line's worth each (the whole
#: result of axe.run is large, and its passes and inapplicable rules are not needed here).
AXE_RUN = """(options) => axe.run(document, options).then((results) => results.violations
  .filter((v) => %s.includes(v.impact))
  .map((v) => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target)})))
""" % json.dumps(FAILING_IMPACTS)
PUBLIC_PAGES = (
    "/", "/partners", "/forms/", "/forms/biblioteka-karta", "/follow", "/staff/login", "/no-such-page",
    "/visits?service=library-card&evening=1", "/visits/place/kiosk-bonarka?service=library-card", "/open-data",
)
STAFF_PAGES = ("/staff/", "/staff/cases/", "/staff/cases/new", "/staff/account", "/staff/account/two-factor", "/staff/agenda")
CASEWORKER, ADMIN, PARTNER_STAFF = "kasia@example.org", "admin@example.org", "partner@example.org"
#: Supervisors set up a second factor at their first sign-in on this site; each language has its own
#: supervisor, who meets the set-up pages.
SUPERVISORS = {language: f"supervisor-{language}@example.org" for language in LANGUAGES}

axe = Axe()


@pytest.fixture(scope="module")
def site_spec(tmp_path_factory: pytest.TempPathFactory) -> SiteSpec:
    """The demo content (partners, cases in every state), a caseworker, an administrator, a partner's
    staff member, supervisors who must use a second factor, and a report of the assistant's scores."""
    scores = tmp_path_factory.mktemp("scores") / "evaluation.json"
    evaluation.write(crafted(), json_path=scores, html_path=None, settings=get_settings())
    return SiteSpec(
        caseworker=(CASEWORKER, PASSWORD),
        demo=True,
        settings={"two_factor_roles": ("supervisor",), "evaluation_report": scores},
        accounts=(
            (ADMIN, PASSWORD, Role.admin, "gup-krakow"),
            (PARTNER_STAFF, PASSWORD, Role.partner_staff, PARTNER_A),
            *((email, PASSWORD, Role.supervisor, "gup-krakow") for email in SUPERVISORS.values()),
        ),
    )


class Sweep:
    """A browser context in one language that checks the page it shows at every width."""

    def __init__(self, browser, site: str, language: str) -> None:
        self.site, self.language = site, language
        self.context = browser.new_context(viewport=VIEWPORTS["desktop"], locale=language)
        # axe-core comes with every document (cheaper than sending its 500 kB into each page).
        self.context.add_init_script(script=axe.axe_script)
        self.page = self.context.new_page()
        self.found: list[str] = []

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.site}/{self.language}{path}")

    def check(self, what: str) -> None:
        """Record the serious and critical axe violations of the page as it is, desktop and phone."""
        page = self.page
        page.wait_for_load_state()
        for viewport, size in VIEWPORTS.items():
            page.set_viewport_size(size)
            for v in page.evaluate(AXE_RUN, AXE_OPTIONS):
                self.found.append(
                    f"{what} [{self.language}, {viewport}]: {v['id']} ({v['impact']}) at {v['targets']}: {v['help']}"
                )
        page.set_viewport_size(VIEWPORTS["desktop"])

    def visit(self, path: str) -> None:
        self.goto(path)
        self.check(path)

    def sign_in(self, email: str, then: str = r".*/staff/$") -> None:
        """Sign in with the site's password; wait for the address that matches the pattern then."""
        self.goto("/staff/login")
        self.page.locator("input[name=email]").fill(email)
        self.page.locator("input[name=password]").fill(PASSWORD)
        self.page.locator("input[name=password]").press("Enter")
        self.page.wait_for_url(re.compile(then))

    def done(self) -> list[str]:
        self.context.close()
        return self.found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_has_no_serious_accessibility_violation(site, browser, language):
    sweep = Sweep(browser, site, language)
    page = sweep.page
    for path in PUBLIC_PAGES:
        sweep.visit(path)
    # The chat after an answer with quick replies.
    sweep.goto("/chat")
    page.get_by_role("textbox").first.fill("hello")
    page.keyboard.press("Enter")
    page.locator(".msg-bot").last.wait_for()
    sweep.check("/chat after an answer")
    # An answer rated "not helpful": the box asks what they looked for and, once, for consent.
    page.locator("#quick-replies button").first.click()  # a topic, from the greeting's quick replies
    page.locator(".msg-rate form").last.wait_for()
    page.locator(".msg-rate button[value=unhelpful]").last.click()
    page.locator(".msg-rate textarea").last.wait_for()
    sweep.check("/chat with a rating's follow-up")
    page.locator(".msg-rate input[name=consent][value=yes]").last.check()
    page.locator(".msg-rate form button[type=submit]").last.click()
    page.locator(".msg-rate p.hint").last.wait_for()
    # A city form sent with nothing filled in: the error summary and the fields' errors.
    sweep.goto("/forms/biblioteka-karta")
    page.locator("form button[name=_action][value=submit]").first.click()
    sweep.check("/forms/biblioteka-karta with errors")
    # The staff side, signed in.
    sweep.sign_in(CASEWORKER)
    for path in STAFF_PAGES:
        sweep.visit(path)
    sweep.goto("/staff/cases/")
    references = sorted(set(re.findall(r"KRK-\d{4}-\d{6}", page.content())))
    assert references, "the demo cases are listed"
    for reference in (references[0], references[3]):  # a new case, and one referred to a partner
        sweep.visit(f"/staff/cases/{reference}")
    found = sweep.done()
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_behind_a_step_has_no_serious_accessibility_violation(site, browser, language):
    """The pages people reach only by doing something: a saved draft, a sent form, the case followed
    with its codes, a case just opened, a form's answers, the second factor's pages, the admin's
    translation coverage, and a partner's dashboard, inbox and referral."""
    found: list[str] = []

    # A newcomer saves a city form, sends it, and follows the case with its codes.
    sweep = Sweep(browser, site, language)
    page = sweep.page
    sweep.goto("/forms/pismo-ogolne")
    page.check("input[name=adresat][value=umk]")
    page.check("input[name=rodzaj_pisma][value=zapytanie]")
    page.fill("#f-tytul", "Zameldowanie")
    page.fill("#f-tresc", "Dzień dobry, jak zameldować się na pobyt czasowy w Krakowie?")
    page.fill("#f-imie", "Olena")
    page.fill("#f-nazwisko", "Kowalenko")
    page.check("input[name=sposob_odpowiedzi][value=email]")
    page.locator("#w-email").wait_for(state="visible")
    page.fill("#f-email", "olena@example.org")
    page.check("#f-klauzula_rodo")
    page.locator("button[name=_action][value=save]").click()
    page.wait_for_url(re.compile(r".*/forms/pismo-ogolne/draft/.*"))
    sweep.check("/forms/pismo-ogolne/draft/…")
    page.locator("button[name=_action][value=submit]").click()
    page.wait_for_url(re.compile(r".*/forms/pismo-ogolne/sent/.*"))
    sweep.check("/forms/pismo-ogolne/sent/…")
    reference, secret = page.locator("dl.codes dd code").all_inner_texts()
    page.locator("#form-sent a[href*='/follow']").click()
    page.locator("#f-secret").fill("WRONG-CODE")
    page.locator("#follow form button[type=submit]").click()
    page.locator("#follow [role=alert]").first.wait_for()
    sweep.check("/follow with wrong codes")
    page.locator("#f-reference").fill(reference)
    page.locator("#f-secret").fill(secret)
    page.locator("#follow form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/follow/case$"))
    sweep.check("/follow/case")

    # A newcomer books a visit: the form sent empty (its errors), then the visit's own page.
    sweep.goto("/visits?service=library-card")
    page.locator("a.slot").first.click()
    page.locator("#book form button[type=submit]").click()
    page.locator("#book .error-summary").wait_for()
    sweep.check("/visits/book with errors")
    page.fill("#f-name", "Olena")
    page.fill("#f-email", "olena@example.org")
    page.locator("#book form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/visits/v/[^/]+\?notice=booked$"))
    sweep.check("/visits/v/…")

    # A caseworker (in the same browser): the form's answers and a case opened by hand.
    sweep.sign_in(CASEWORKER)
    sweep.visit(f"/staff/forms/cases/{reference}")
    sweep.goto("/staff/cases/new")
    page.fill("#f-display_name", "Olena K.")
    page.select_option("#f-category", index=1)
    page.fill("#f-subject", "Zameldowanie")
    page.locator("#f-subject").press("Enter")
    page.wait_for_url(re.compile(r".*/staff/cases/KRK-\d{4}-\d{6}/opened$"))
    sweep.check("/staff/cases/…/opened")
    found += sweep.done()

    # A supervisor sets up the second factor at the first sign-in, then signs in with a code.
    sweep = Sweep(browser, site, language)
    page = sweep.page
    sweep.sign_in(SUPERVISORS[language], then=r".*/staff/login/enrol$")
    sweep.check("/staff/login/enrol")
    totp = pyotp.TOTP(page.locator("#two-factor-secret").inner_text().replace(" ", ""))
    page.locator("#f-code").fill(totp.now())
    page.locator("#f-code").press("Enter")
    page.locator("#recovery-codes").wait_for()
    sweep.check("the recovery codes")
    page.context.clear_cookies()
    sweep.sign_in(SUPERVISORS[language], then=r".*/staff/login/code.*")
    sweep.check("/staff/login/code")
    page.locator("#f-code").fill(totp.at(time.time(), counter_offset=1))  # a later step than the first
    page.locator("#f-code").press("Enter")
    page.wait_for_url(re.compile(r".*/staff/$"))
    sweep.visit("/staff/agenda/load")
    sweep.visit("/staff/reports")
    sweep.visit("/staff/assistant/scores")
    # The review queue with the question rated above, and the difference before a label is saved
    # (in one language: the pages are the same in the others, and Arabic also checks right to left).
    if language == "ar":
        # A question the assistant cannot answer, from a newcomer who agrees, through Rasa's REST
        # channel: the queue has it whichever test ran before.
        for text in ("how do I repair a bicycle chain?", '/review_consent{"agree": "yes"}'):
            sent = page.request.post(f"{site}/webhooks/rest/webhook", data={"sender": "a11y-review", "message": text})
            assert sent.ok, sent.text()
        sweep.visit("/staff/assistant/review")
        page.locator(".review-label select").first.select_option(index=3)
        page.locator(".review-label input[name=text]").first.fill(f"a permit to work, please ({language})")
        page.locator(".review-label button").first.click()
        page.locator("pre.diff").wait_for()
        sweep.check("/staff/assistant/review/label")

    # An administrator's translation coverage.
    page.context.clear_cookies()
    sweep.sign_in(ADMIN)
    sweep.visit("/staff/translations")

    # A partner's staff: the dashboard, the inbox of referrals and one referral.
    page.context.clear_cookies()
    sweep.sign_in(PARTNER_STAFF)
    sweep.check("/staff/ (partner)")
    sweep.visit("/staff/cases/")
    referrals = sorted(set(re.findall(r"KRK-\d{4}-\d{6}", page.content())))
    assert referrals, "the demo refers cases to partner A"
    sweep.visit(f"/staff/cases/{referrals[0]}")
    found += sweep.done()
    assert found == [], "\n".join(found)
