"""Checking answers (skip logic, every kind of constraint), submission into cases, and forms that
change after people have sent them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cases.content import load_case_content
from app.config import PROJECT_ROOT
from app.errors import InvalidInput
from app.forms import flows, service
from app.forms.content import load_forms
from app.forms.models import FormRevision
from app.i18n import use_locale
from tests.forms.answers import ANSWERS

ON = date(2026, 11, 24)


@pytest.fixture
def forms(settings):
    return service.forms(settings)


def check(form, changes=None, *, locale="en", remove=()):
    answers = {k: v for k, v in {**ANSWERS[form.id], **(changes or {})}.items() if k not in remove}
    raw = service.raw_answers(form, {k: v if isinstance(v, list) else [v] for k, v in answers.items()})
    with use_locale(locale):
        return service.check(form, raw, on=ON)


# --- skip logic ---------------------------------------------------------------------------------


def test_a_skipped_question_is_neither_required_nor_kept(forms):
    form = forms["gup-rejestracja"]
    result = check(form, {"ma_pesel": "no", "dokument": "paszport FE 123456"})
    assert result.errors == {}
    assert result.relevant["pesel"] is False and "pesel" not in result.values  # answered, but no longer asked
    assert result.relevant["dokument"] is True
    missing = check(form, {"ma_pesel": "no"}, remove=("pesel",))
    assert list(missing.errors) == ["dokument"]


def test_a_skipped_section_skips_all_its_questions(forms):
    form = forms["gup-rejestracja"]
    eu = check(form, {"obywatel_ue": "yes"}, remove=("podstawa_pobytu",))
    assert eu.errors == {} and eu.sections["pobyt"] is False and "podstawa_pobytu" not in eu.values
    not_eu = check(form, remove=("podstawa_pobytu",))
    assert list(not_eu.errors) == ["podstawa_pobytu"]
    # A question inside a section needs both: a visa holder is asked until when it is valid.
    visa = check(form, {"podstawa_pobytu": "wiza"})
    assert list(visa.errors) == ["pobyt_wazny_do"]


def test_selected_and_numbers_and_ages_in_conditions(forms):
    gup = forms["gup-rejestracja"]
    assert check(gup, {"jezyki": ["polski"]}, remove=("jezyk_inny",)).relevant["jezyk_inny"] is False
    assert list(check(gup, remove=("jezyk_inny",)).errors) == ["jezyk_inny"]
    culture = forms["program-kulturalny"]
    alone = check(culture, {"program": "spacer", "liczba_osob": "1"}, remove=("liczba_dzieci", "wiek_dzieci"))
    assert (
        alone.errors == {}
        and alone.relevant["liczba_dzieci"] is False
        and alone.relevant["wiek_dzieci"] is False
    )
    library = forms["biblioteka-karta"]
    child = check(library, {"data_urodzenia": "2016-06-01"})
    assert child.sections["opiekun"] is True
    assert set(child.errors) == {"opiekun_imie_nazwisko", "opiekun_dokument", "opiekun_zgoda"}
    teenager = check(library, {"data_urodzenia": "2012-06-01"})
    assert teenager.sections["opiekun"] is False and teenager.errors == {}


def test_a_birth_date_in_the_future_is_an_error_and_opens_no_guardian_section(forms):
    """Only valid answers decide which questions are asked: a date of birth after today is not a
    child's (the guardian's questions, asked under 13), it is a mistake to correct."""
    library = forms["biblioteka-karta"]
    future = check(library, {"data_urodzenia": "2027-01-01"})  # after ON
    assert future.sections["opiekun"] is False
    assert future.errors == {"data_urodzenia": "The date of birth cannot be in the future."}
    assert "data_urodzenia" not in future.values
    assert check(library, {"data_urodzenia": "2016-06-01"}).sections["opiekun"] is True


def test_a_date_of_birth_is_asked_in_three_boxes(forms):
    """GOV.UK's date input: day, month and year as typed (no calendar), one answer stored."""
    library = forms["biblioteka-karta"]
    assert library.fields["data_urodzenia"].date_in_parts
    posted = {**{k: v if isinstance(v, list) else [v] for k, v in ANSWERS[library.id].items() if k != "data_urodzenia"}}
    boxes = {"data_urodzenia-day": [" 1 "], "data_urodzenia-month": ["2"], "data_urodzenia-year": ["1985"]}
    raw = service.raw_answers(library, {**posted, **boxes})
    assert raw["data_urodzenia"] == "1.2.1985"
    result = service.check(library, raw, on=ON)
    assert result.errors == {} and service.stored(result.values["data_urodzenia"]) == "1985-02-01"
    assert service.date_parts("1985-02-01") == {"day": "1", "month": "2", "year": "1985"}
    assert service.date_parts("1..1985") == {"day": "1", "month": "", "year": "1985"}
    f = library.fields["data_urodzenia"]
    assert service.incomplete_date(f, "1..1985") and not service.incomplete_date(f, "1.2.1985")
    assert not service.incomplete_date(f, "")
    with use_locale("en"):
        empty = service.check(library, service.raw_answers(library, {k: [""] for k in boxes}), on=ON)
        assert empty.errors["data_urodzenia"] == "This field is required."
        late = service.check(library, service.raw_answers(library, {**boxes, "data_urodzenia-year": ["85"]}), on=ON)
        assert late.errors["data_urodzenia"] == "Enter a real date: the day and the month as numbers, the year with 4 digits."


# --- every kind of constraint -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form_id", "changes", "field", "message"),
    [
        # min / max of a number
        ("gup-rejestracja", {"staz_lat": "61"}, "staz_lat", "Podaj liczbę lat od 0 do 60."),
        ("gup-rejestracja", {"staz_lat": "-1"}, "staz_lat", "Podaj liczbę lat od 0 do 60."),
        # min / max of a date, relative to today
        (
            "gup-rejestracja",
            {"data_urodzenia": "2015-01-01"},
            "data_urodzenia",
            "Zarejestrować się może osoba, która ukończyła 15 lat.",
        ),
        ("gup-rejestracja", {"data_urodzenia": "1900-01-01"}, "data_urodzenia", "Sprawdź datę urodzenia."),
        (
            "pomoc-organizacji",
            {"rodzaj_pomocy": "prawna", "dziedzina_prawna": "decyzja", "termin_decyzji": "2026-11-23"},
            "termin_decyzji",
            "Termin nie może być z przeszłości.",
        ),
        # min_length / max_length
        ("pismo-ogolne", {"tytul": "Hej"}, "tytul", "Tytuł musi mieć od 5 do 150 znaków."),
        ("pismo-ogolne", {"tytul": "x" * 151}, "tytul", "Tytuł musi mieć od 5 do 150 znaków."),
        # pattern
        ("gup-rejestracja", {"pesel": "9005171234"}, "pesel", "Numer PESEL składa się z 11 cyfr."),
        ("gup-rejestracja", {"pesel": "9005171234x"}, "pesel", "Numer PESEL składa się z 11 cyfr."),
        # expression, reading another answer
        (
            "program-kulturalny",
            {"liczba_dzieci": "4"},
            "liczba_dzieci",
            "Liczba dzieci nie może być większa niż liczba zgłaszanych osób.",
        ),
        (
            "biblioteka-karta",
            {"email": "", "telefon": ""},
            "powiadomienia",
            "Aby otrzymywać powiadomienia, podaj adres e-mail lub numer telefonu.",
        ),
        # min / max of a multiselect: how many are chosen
        (
            "kurs-jezyka-polskiego",
            {"dni": ["wt"]},
            "dni",
            "Wybierz co najmniej dwa dni, abyśmy mogli znaleźć dla Ciebie grupę.",
        ),
        (
            "kurs-jezyka-polskiego",
            {"cel": ["praca", "nauka", "egzamin", "obywatelstwo"]},
            "cel",
            "Wybierz najwyżej trzy cele.",
        ),
    ],
)
@pytest.mark.parametrize("locale", ["pl", "uk"])
def test_each_constraint_with_its_message_in_the_users_language(
    forms, form_id, changes, field, message, locale
):
    result = check(forms[form_id], changes, locale=locale)
    assert list(result.errors) == [field]
    assert result.errors[field] == service.form_text(message, locale)
    if locale == "uk":
        assert result.errors[field] != message


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "olena@"}, "email", "Enter a valid e-mail address."),
        (
            {"telefon": "call me"},
            "telefon",
            "Enter a phone number with digits only, for example +48 600 000 000.",
        ),
        ({"staz_lat": "seven"}, "staz_lat", "Enter a whole number."),
        ({"staz_lat": "7,5"}, "staz_lat", "Enter a whole number."),
        ({"pobyt_wazny_do": "2099-02-31", "obywatel_ue": "no", "podstawa_pobytu": "wiza"}, "pobyt_wazny_do", "Enter a date as YYYY-MM-DD."),
        ({"data_urodzenia": "31.2.1990"}, "data_urodzenia", "Enter a real date: the day and the month as numbers, the year with 4 digits."),
        ({"data_urodzenia": "1990-02-31"}, "data_urodzenia", "Enter a real date: the day and the month as numbers, the year with 4 digits."),
        ({"data_urodzenia": "17..1990"}, "data_urodzenia", "Enter the day, the month and the year."),
        ({"wyksztalcenie": "doktorat"}, "wyksztalcenie", "Choose one of the offered options."),
        ({"jezyki": ["polski", "klingoński"]}, "jezyki", "Choose one of the offered options."),
        ({"ma_pesel": "maybe"}, "ma_pesel", "Choose one of the offered options."),
        ({"oswiadczenie_prawda": ""}, "oswiadczenie_prawda", "Tick this box to send the form."),
        ({"imie": ""}, "imie", "This field is required."),
        ({"zawod": "x" * 201}, "zawod", "Enter at most 200 characters."),
    ],
)
def test_built_in_checks_of_each_kind_of_question(forms, changes, field, message):
    result = check(forms["gup-rejestracja"], changes, locale="en")
    assert result.errors == {field: message}


def test_dates_and_numbers_as_people_write_them(forms):
    form = forms["gup-rejestracja"]
    result = check(form, {"data_urodzenia": "17.05.1990", "staz_lat": " 7 "})
    assert result.errors == {} and result.values["data_urodzenia"] == date(1990, 5, 17)
    assert service.stored(result.values["staz_lat"]) == "7"


# --- submission --------------------------------------------------------------------------------------


def _raw(form, **changes):
    answers = {**ANSWERS[form.id], **changes}
    return service.raw_answers(
        form, {k: v if isinstance(v, list) else [v] for k, v in answers.items() if v is not None}
    )


def test_submission_opens_a_case_of_the_chosen_category(db, settings, world, forms):
    form = forms["pomoc-organizacji"]
    raw = _raw(form, rodzaj_pomocy="psychologiczna", jezyk_specjalisty="ukrainski", zgoda_dane_wrazliwe="yes")
    sent = flows.submit(db=db, settings=settings, form=form, raw=raw, language="uk", on=ON)
    assert sent.case.category == "psychological_support"
    assert sent.case.client.display_name == "Iryna" and sent.case.client.district == "Bieżanów-Prokocim"
    assert "utrata_mieszkania" not in service.answers_of(settings=settings, submission=sent.submission)
    with pytest.raises(InvalidInput) as caught:
        flows.submit(
            db=db,
            settings=settings,
            form=form,
            raw=_raw(form, rodzaj_pomocy="psychologiczna"),
            language="uk",
            on=ON,
        )
    assert set(caught.value.field_errors) == {"jezyk_specjalisty", "zgoda_dane_wrazliwe"}


def test_one_revision_per_definition(db, settings, world, forms):
    form = forms["pismo-ogolne"]
    for _ in range(2):
        flows.submit(db=db, settings=settings, form=form, raw=_raw(form), language="en", on=ON)
    count = db.scalar(select(func.count()).select_from(FormRevision).where(FormRevision.form_id == form.id))
    assert count == 1


def _changed_form(tmp_path: Path):
    """Return pismo-ogolne as a city administrator changed it: new wording, a question gone, version 2."""
    folder = tmp_path / "forms"
    folder.mkdir()
    text = (PROJECT_ROOT / "forms" / "pismo-ogolne.yml").read_text(encoding="utf-8")
    text = text.replace("version: 1", "version: 2").replace("label: Tytuł pisma", "label: Temat pisma")
    start = text.index("      - name: rodzaj_pisma")
    end = text.index("      - name: tytul")
    (folder / "pismo-ogolne.yml").write_text(text[:start] + text[end:], encoding="utf-8")
    cases = load_case_content(PROJECT_ROOT / "cases")
    return load_forms(folder, categories=cases.categories, districts=cases.districts)["pismo-ogolne"]


def test_old_submissions_stay_readable_after_the_form_changes(
    db, settings, world, forms, tmp_path, client, login, monkeypatch
):
    old_form = forms["pismo-ogolne"]
    old = flows.submit(db=db, settings=settings, form=old_form, raw=_raw(old_form), language="ru", on=ON)
    new_form = _changed_form(tmp_path)
    assert new_form.version == 2 and "rodzaj_pisma" not in new_form.fields
    new = flows.submit(db=db, settings=settings, form=new_form, raw=_raw(new_form), language="ru", on=ON)

    assert old.submission.revision_id != new.submission.revision_id
    then = service.form_of(settings=settings, submission=old.submission)
    assert then.version == 1 and then.fields["tytul"].label == "Tytuł pisma"
    rows = {
        row.name: row
        for row in service.answer_rows(
            then, service.answers_of(settings=settings, submission=old.submission), "pl"
        )
    }
    assert rows["rodzaj_pisma"].label_pl == "Rodzaj pisma" and rows["rodzaj_pisma"].value_pl == "zapytanie"
    assert rows["tytul"].label_pl == "Tytuł pisma"
    # Read with today's form, the answer to the removed question is still shown (by its name).
    today_rows = {
        row.name: row
        for row in service.answer_rows(
            new_form, service.answers_of(settings=settings, submission=old.submission), "pl"
        )
    }
    assert (
        today_rows["rodzaj_pisma"].value_pl == "zapytanie" and today_rows["tytul"].label_pl == "Temat pisma"
    )

    # The staff page and the receipt use the wording the person saw.
    monkeypatch.setattr(service, "forms", lambda _settings: {**forms, "pismo-ogolne": new_form})
    login("caseworker@cases.example.org", "long enough password")
    page = client.get(f"/en/staff/forms/cases/{old.case.reference}")
    assert "<dt>Tytuł pisma</dt>" in page.text and "<dt>Rodzaj pisma</dt>" in page.text
    assert "The form has changed since it was sent" in page.text
    fresh = client.get(f"/en/staff/forms/cases/{new.case.reference}")
    assert "<dt>Temat pisma</dt>" in fresh.text and "The form has changed" not in fresh.text
    from app.forms.pdf import receipt_html

    assert "Tytuł pisma" in receipt_html(settings=settings, submission=old.submission, locale="ru")


def test_a_draft_survives_a_changed_form(db, settings, world, forms, tmp_path):
    old_form = forms["pismo-ogolne"]
    draft, token = flows.save_draft(
        db=db, settings=settings, form=old_form, raw=_raw(old_form), language="en"
    )
    new_form = _changed_form(tmp_path)
    raw = service.draft_answers(
        settings=settings, form=new_form, submission=service.get_by_token(db=db, token=token)
    )
    assert "rodzaj_pisma" not in raw and raw["tytul"] == ANSWERS["pismo-ogolne"]["tytul"]
    sent = flows.submit(db=db, settings=settings, form=new_form, raw=raw, language="en", token=token, on=ON)
    assert sent.submission.id == draft.id and sent.submission.revision.version == 2


def test_old_drafts_are_purged(db, settings, world, forms):
    from datetime import timedelta

    from app.db import utcnow

    form = forms["pismo-ogolne"]
    flows.save_draft(
        db=db, settings=settings, form=form, raw=_raw(form), language="en", now=utcnow() - timedelta(days=31)
    )
    _fresh, token = flows.save_draft(db=db, settings=settings, form=form, raw=_raw(form), language="en")
    assert service.purge_drafts(db=db) == 1
    assert service.get_by_token(db=db, token=token).status == "draft"


def test_form_strings_are_extracted_with_their_context(tmp_path):
    from app import i18n_tools

    catalog = i18n_tools.extract(PROJECT_ROOT, tmp_path)
    message = catalog.get("Numer PESEL składa się z 11 cyfr.", context="form")
    assert message is not None and message.locations[0][0] == "forms/gup-rejestracja.yml"
    assert catalog.get("Tak", context="form") is not None
    assert catalog.get("Numer PESEL składa się z 11 cyfr.") is None  # never without the context
