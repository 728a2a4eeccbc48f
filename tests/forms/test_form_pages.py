"""The city form's page as people meet it: errors tied to their inputs, the language switched without
losing the answers, the date of birth in three boxes, and what the chat knows filled in."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.assistant import service as chat_service
from app.cases import service as case_service
from app.cases.enums import Source
from app.cases.events import CLIENT
from app.cases.schemas import CaseIn, ClientIn
from app.forms.models import FormSubmission
from tests.conftest import csrf_from
from tests.forms.answers import post_data

FORM = "biblioteka-karta"


# --- errors (item 7) ----------------------------------------------------------------------------------


def test_the_error_summary_comes_first_and_links_to_each_input(client, world):
    page = client.get(f"/en/forms/{FORM}")
    bad = client.post(
        f"/en/forms/{FORM}",
        data=post_data(
            FORM,
            csrf_from(page.text),
            imie="",
            powiadomienia=None,
            regulamin=None,
            **{"data_urodzenia": None},
        ),
    )
    assert bad.status_code == 422
    html = bad.text
    summary = re.search(
        r'<div class="alert alert-error error-summary" role="alert" tabindex="-1" data-error-summary>.*?</div>',
        html,
        re.S,
    )
    assert summary and html.index("data-error-summary") < html.index('<form id="city-form"')
    targets = re.findall(r'href="#([^"]+)"', summary.group(0))
    assert targets == ["f-imie", "f-data_urodzenia", "f-powiadomienia", "f-regulamin"]
    for target in targets:  # each link goes to an input, never to the question's wrapper
        assert re.search(rf'<input[^>]* id="{target}"', html), target
    # Each input says it is wrong and is described by its message.
    assert re.search(
        r'<input id="f-imie" name="imie" data-describe="e-imie" aria-describedby="e-imie" aria-invalid="true"',
        html,
    )
    assert re.search(
        r'<input type="radio" id="f-powiadomienia" name="powiadomienia" value="yes" aria-invalid="true">',
        html,
    )
    assert re.search(
        r'<fieldset class="choices" data-describe="e-powiadomienia" aria-describedby="e-powiadomienia">', html
    )
    # A question without an error is not described by an empty message.
    assert re.search(r'<input id="f-nazwisko" name="nazwisko" data-describe="e-nazwisko" required', html)


# --- the language, switched mid-form (item 10) ----------------------------------------------------------


def test_the_language_switcher_of_a_form_keeps_the_answers(client, db, world):
    page = client.get(f"/uk/forms/{FORM}")
    # The header's languages are buttons of the form: they send the answers to the same form in that language.
    assert re.search(
        rf'<button class="link-button lang-keep" type="submit" form="city-form" formaction="/en/forms/{FORM}" formnovalidate name="_action" value="language" lang="en" dir="ltr">English</button>',
        page.text,
    )
    key = re.search(r'name="_key" value="([^"]+)"', page.text).group(1)
    switched = client.post(
        f"/en/forms/{FORM}",
        data={
            **post_data(FORM, csrf_from(page.text), action="language", imie="Andrij", email="andrij@"),
            "_key": key,
        },
    )
    assert switched.status_code == 200 and '<html lang="en"' in switched.text
    assert 'value="Andrij"' in switched.text and 'value="andrij@"' in switched.text  # nothing lost
    assert "error-summary" not in switched.text  # nothing judged yet
    assert f'name="_key" value="{key}"' in switched.text
    assert db.scalar(select(func.count()).select_from(FormSubmission)) == 0  # nothing stored
    # From a draft's page, to the draft's address in the other language.
    saved = client.post(f"/uk/forms/{FORM}", data=post_data(FORM, csrf_from(page.text), action="save"))
    token = re.search(r"/draft/([A-Za-z0-9_-]+)", str(saved.url)).group(1)
    assert f'formaction="/pl/forms/{FORM}/draft/{token}?saved=true"' in saved.text
    other = client.post(
        f"/pl/forms/{FORM}/draft/{token}",
        data=post_data(FORM, csrf_from(page.text), action="language", imie="Ołena"),
    )
    assert '<html lang="pl"' in other.text and 'value="Ołena"' in other.text
    assert f'action="/pl/forms/{FORM}/draft/{token}"' in other.text


# --- the date of birth (item 11) -------------------------------------------------------------------------


def test_the_date_of_birth_is_three_boxes_not_a_date_picker(client, db, world):
    page = client.get(f"/en/forms/{FORM}")
    assert 'type="date"' not in page.text.split('id="w-data_urodzenia"')[1].split('id="w-dokument"')[0]
    for part, autocomplete in (("day", "bday-day"), ("month", "bday-month"), ("year", "bday-year")):
        assert re.search(
            rf'<input type="text" inputmode="numeric" id="f-data_urodzenia(-{part})?" name="data_urodzenia-{part}" value=""[^>]* autocomplete="{autocomplete}"',
            page.text,
        ), part
    data = post_data(FORM, csrf_from(page.text), data_urodzenia=None)
    wrong = client.post(
        f"/en/forms/{FORM}",
        data={**data, "data_urodzenia-day": "1", "data_urodzenia-month": "2", "data_urodzenia-year": "2999"},
    )
    assert wrong.status_code == 422
    assert (
        'id="e-data_urodzenia" aria-live="polite">The date of birth cannot be in the future.</p>'
        in wrong.text
    )
    assert 'name="data_urodzenia-year" value="2999"' in wrong.text  # what was typed stays
    assert re.search(r'id="s-opiekun"\s+hidden', wrong.text)  # no guardian's questions for it
    sent = client.post(
        f"/en/forms/{FORM}",
        data={**data, "data_urodzenia-day": "1", "data_urodzenia-month": "2", "data_urodzenia-year": "1985"},
    )
    assert sent.status_code == 200 and "/sent/" in str(sent.url)
    receipt = client.get(re.search(r'href="(/en/forms/receipt/[^"]+\.pdf)"', sent.text).group(1))
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"


def test_the_live_check_waits_for_the_whole_date(client, world):
    page = client.get(f"/en/forms/{FORM}")
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_from(page.text)}
    typing = {
        "_field": "data_urodzenia",
        "data_urodzenia-day": "1",
        "data_urodzenia-month": "",
        "data_urodzenia-year": "",
    }
    assert (
        client.post(f"/en/forms/{FORM}/check", data=typing, headers=headers).text.split("<")[0].strip() == ""
    )
    future = {**typing, "data_urodzenia-month": "2", "data_urodzenia-year": "2999"}
    answer = client.post(f"/en/forms/{FORM}/check", data=future, headers=headers)
    assert answer.text.split("<")[0].strip() == "The date of birth cannot be in the future."
    assert "s-opiekun" not in answer.text  # the guardian's section stays hidden


# --- what the chat knows (item 12) --------------------------------------------------------------------------


def _chat(db, settings, *, language="uk", district="Nowa Huta", contact=True, preferred="email"):
    """Return the cookie of a web chat that knows a district and (with consent) an e-mail address."""
    sender = chat_service.new_sender_id()
    conversation = chat_service.get_or_start(db=db, channel="web", sender_id=sender, language=language)
    conversation.state = {"language": language, "slots": {"district": district}}
    if contact:
        case, _secret = case_service.create(
            db=db,
            settings=settings,
            client=ClientIn(
                display_name="Chat visitor",
                preferred_language=language,
                email="andrij@example.org",
                phone="+48 600 100 200",
                preferred_contact=preferred,
            ),
            case=CaseIn(
                category="library",
                subject="Karta",
                description="Chcę kartę biblioteczną.",
                source=Source.chat,
            ),
            actor=CLIENT,
        )
        conversation.case_id = case.id
    db.commit()
    return sender


def test_a_form_opened_from_the_chat_has_what_the_chat_knows(client, db, settings, world):
    client.cookies.set("witaj_chat", _chat(db, settings))
    page = client.get(f"/uk/forms/{FORM}")
    assert page.status_code == 200
    assert re.search(r'<option value="Nowa Huta" selected>', page.text)  # the district slot
    assert re.search(r'id="f-email" name="email"[^>]* value="andrij@example.org"', page.text)
    assert re.search(r'id="f-telefon" name="telefon"[^>]* value="\+48 600 100 200"', page.text)
    notice = page.text.split('role="status"')[1].split("</div>")[0]
    assert "Номер телефону" in notice and "Адреса електронної пошти" in notice
    # Opened from the chat's link in another language: the form opens in the chat's language.
    moved = client.get(
        f"/pl/forms/{FORM}", headers={"Referer": "http://testserver/pl/chat"}, follow_redirects=False
    )
    assert (
        moved.status_code == 303 and moved.headers["location"] == f"/uk/forms/{FORM}"
    )  # nothing personal in it
    stay = client.get(f"/pl/forms/{FORM}", follow_redirects=False)  # typed or linked from elsewhere
    assert stay.status_code == 200 and '<html lang="pl"' in stay.text


def test_contact_details_are_filled_in_only_when_given_with_consent(client, db, settings, world):
    """A contact typed in a chat that never asked for consent (a handover's case) is not a form's."""
    client.cookies.set("witaj_chat", _chat(db, settings, preferred=None))
    page = client.get(f"/en/forms/{FORM}")
    assert re.search(r'<option value="Nowa Huta" selected>', page.text)
    assert "andrij@example.org" not in page.text and "600 100 200" not in page.text
    client.cookies.set("witaj_chat", _chat(db, settings, contact=False, district="not_given"))
    nothing = client.get(f"/en/forms/{FORM}")
    assert "selected>" not in nothing.text.split('id="f-dzielnica"')[1].split("</select>")[0]
    assert 'role="status"' not in nothing.text.split('<form id="city-form"')[0]
