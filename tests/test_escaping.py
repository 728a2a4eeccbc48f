"""Content and translations are text, never markup (issue 11): a partner's service name or a .po string
with an htmx attribute arrives escaped in every page that shows it, even when it got past the validators."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import Markup

import app.content
from app.cases import flows
from app.cases.schemas import TransitionIn
from app.config import PROJECT_ROOT, get_settings
from app.i18n import use_locale
from app.web import environment
from tests.cases.fixtures import PARTNER_A

PASSWORD = "long enough password"  # noqa: S105 - of the users of tests/cases/fixtures.py
#: What made a caseworker's browser post notes as them: htmx acts on attributes, which CSP does not stop.
ATTACK = '<a hx-post="/pl/staff/cases/x/notes" hx-trigger="load">x</a>'
ESCAPED = "&lt;a hx-post=&#34;/pl/staff/cases/x/notes&#34; hx-trigger=&#34;load&#34;&gt;x&lt;/a&gt;"
#: A Polish translation that adds markup (`witaj i18n check` refuses it; pages must escape it anyway).
TRANSLATION = '<b hx-get="/pl/staff/cases/" hx-trigger="load">Organizacje, które pomagają</b>'


class _ActiveAttributes(HTMLParser):
    """Collects every htmx and event-handler attribute of the elements of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith(("hx-", "data-hx-", "on")):
                self.found.append((tag, name, value))


def active_attributes(html: str) -> list[tuple[str, str, str | None]]:
    parser = _ActiveAttributes()
    parser.feed(html)
    return parser.found


def assert_no_injected_element(html: str) -> None:
    """Assert that no element of the page carries an attribute that came from the content."""
    found = active_attributes(html)
    assert found, "the page should have its own htmx attributes; the parser found none"
    injected = [
        (tag, name, value)
        for tag, name, value in found
        if name.startswith("on") or value == "load" or (value or "").startswith("/pl/staff/cases/x")
    ]
    assert injected == [], injected
    assert "<a hx-post" not in html and "<b hx-get" not in html


def _replace_msgstr(po: Path, msgid: str, msgstr: str) -> None:
    text = po.read_text(encoding="utf-8")
    start = text.index(f'msgid "{msgid}"\nmsgstr "')
    end = text.index("\n", text.index("\nmsgstr ", start) + 1)
    escaped = msgstr.replace("\\", "\\\\").replace('"', '\\"')
    po.write_text(text[:start] + f'msgid "{msgid}"\nmsgstr "{escaped}"' + text[end:], encoding="utf-8")


@pytest.fixture
def content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a content folder whose partner service is named ATTACK and whose Polish catalog
    translates the directory's heading as TRANSLATION, with the markup validators bypassed."""
    root = tmp_path / "content"
    root.mkdir()
    for name in ("cases", "forms", "dialogues", "templates"):
        (root / name).symlink_to(PROJECT_ROOT / name, target_is_directory=True)
    shutil.copytree(PROJECT_ROOT / "partners", root / "partners")
    partner = root / "partners" / f"{PARTNER_A}.yml"
    text = partner.read_text(encoding="utf-8")
    old = "name: Legal aid on residence and work permits"
    assert old in text
    partner.write_text(text.replace(old, f"name: '{ATTACK}'", 1), encoding="utf-8")
    shutil.copytree(PROJECT_ROOT / "locales", root / "locales")
    po = root / "locales" / "pl" / "LC_MESSAGES" / "messages.po"
    _replace_msgstr(po, "Organisations that help", TRANSLATION)
    po.with_suffix(".mo").unlink(missing_ok=True)  # the catalog is compiled from the .po
    # The validators refuse such content at start-up; escaping by default must hold without them.
    monkeypatch.setattr(app.content, "markup", lambda text: [], raising=False)
    return root


@pytest.fixture
def settings(content: Path):
    """Return the test settings on the content folder with markup (the app fixtures use them)."""
    return get_settings().model_copy(update={"content_dir": content})


def test_public_partner_directory_escapes_content_and_translations(client):
    page = client.get("/pl/partners")
    assert page.status_code == 200
    assert ESCAPED in page.text
    assert "&lt;b hx-get=&#34;/pl/staff/cases/&#34; hx-trigger=&#34;load&#34;&gt;Organizacje" in page.text
    assert_no_injected_element(page.text)
    # The htmx fragment of the filters renders the same names through the same escaping.
    fragment = client.get(
        "/pl/partners",
        params={"category": "legal_aid"},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert ESCAPED in fragment.text
    assert "<a hx-post" not in fragment.text


def test_staff_case_page_escapes_a_suggested_service(client, login, world, open_case, db, settings):
    case, _secret = open_case(category="legal_aid")
    flows.transition(
        db=db,
        settings=settings,
        case=case,
        request=TransitionIn(name="triage", category="legal_aid"),
        actor=world.actor(world.caseworker),
    )
    db.commit()
    assert login(world.caseworker.email, PASSWORD, locale="pl").status_code == 303
    page = client.get(f"/pl/staff/cases/{case.reference}")
    assert page.status_code == 200
    assert f'value="{PARTNER_A}/legal-aid-residence"' in page.text  # the suggestion is offered
    assert ESCAPED in page.text
    assert_no_injected_element(page.text)


# --- the template environment ------------------------------------------------------------------------


@pytest.fixture
def env():
    return environment(str(get_settings().template_path))


def test_underscore_escapes_content(env):
    with use_locale("pl"):
        html = env.from_string("<p>{{ _(name) }}</p>").render(name=ATTACK)
    assert html == f"<p>{ESCAPED}</p>"


def test_underscore_takes_a_percent_sign_in_content(env):
    """Content is no format string: "50%" once made the page fail (Jinja formats every gettext)."""
    with use_locale("pl"):
        html = env.from_string("{{ _(fees) }}").render(fees="Zniżka 50% dla dzieci < 6 lat")
    assert html == "Zniżka 50% dla dzieci &lt; 6 lat"


def test_trans_blocks_escape_their_variables_and_keep_markup_variables(env):
    template = env.from_string(
        "{% trans name=name %}Hello, {{ name }}.{% endtrans %} {% trans %}100%{% endtrans %}"
    )
    with use_locale("en"):
        assert template.render(name="<b>Ola</b>") == "Hello, &lt;b&gt;Ola&lt;/b&gt;. 100%"
        # A template that needs markup in a sentence passes it as Markup, and says so.
        assert template.render(name=Markup("<b>Ola</b>")) == "Hello, <b>Ola</b>. 100%"
