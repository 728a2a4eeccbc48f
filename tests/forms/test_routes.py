"""The forms as newcomers use them: every form in every language, sent into a case with a PDF receipt."""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
from markupsafe import escape as html_escape
from pypdf import PdfReader
from sqlalchemy import select

from app.cases.models import AuditEntry, CaseFile
from app.forms import service
from app.forms.models import FormSubmission
from app.i18n import use_locale
from app.languages import KNOWN_LOCALES
from tests.conftest import csrf_from
from tests.forms.answers import ANSWERS, CATEGORY, SHOWN, post_data

FORM_IDS = sorted(ANSWERS)


def pdf_text(content: bytes) -> str:
    """Return the text of a PDF with its lines joined by spaces."""
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def required_message(locale: str) -> str:
    with use_locale(locale):
        from app.i18n import _

        return _("This field is required.")


@pytest.mark.parametrize("locale", KNOWN_LOCALES)
def test_forms_index_lists_every_form(client, locale):
    page = client.get(f"/{locale}/forms/")
    assert page.status_code == 200
    for form_id in FORM_IDS:
        assert f"/{locale}/forms/{form_id}" in page.text


@pytest.mark.parametrize("locale", KNOWN_LOCALES)
@pytest.mark.parametrize("form_id", FORM_IDS)
def test_every_form_renders_validates_and_submits(client, db, settings, world, form_id, locale):
    form = service.get_form(settings=settings, form_id=form_id)
    page = client.get(f"/{locale}/forms/{form_id}")
    assert page.status_code == 200
    html = page.text
    title = service.form_text(form.title, locale)
    assert f"<title>{html_escape(title)}" in html
    if locale == "pl":
        assert 'class="official"' not in html
    else:
        assert title != form.title, "the title is translated"
        assert f'<span class="official" lang="pl" dir="ltr">{form.title}</span>' in html
    for f in form.fields.values():
        assert f'id="w-{f.name}"' in html
        label = service.form_text(f.label, locale).replace("'", "&#39;").replace('"', "&#34;")
        assert label in html, (f.name, label)

    # Nothing answered: the required questions are marked, in the user's language.
    empty = client.post(
        f"/{locale}/forms/{form_id}", data={"csrf_token": csrf_from(html), "_action": "submit"}
    )
    assert empty.status_code == 422
    assert required_message(locale) in empty.text
    assert db.scalar(select(FormSubmission).where(FormSubmission.form_id == form_id)) is None

    sent = client.post(f"/{locale}/forms/{form_id}", data=post_data(form_id, csrf_from(html)))
    assert sent.status_code == 200, re.findall(r'class="error-message"[^>]*>([^<]+)<', sent.text)
    assert [r.status_code for r in sent.history] == [303] and f"/{locale}/forms/{form_id}/sent/" in str(sent.url)
    reference = re.search(r"<code>(KRK-\d{4}-\d{6})</code>", sent.text).group(1)
    case = db.scalar(select(CaseFile).where(CaseFile.reference == reference))
    assert case.category == CATEGORY[form_id]
    assert case.source == "form" and case.language == locale and form_id in case.tags
    submission = db.scalar(select(FormSubmission).where(FormSubmission.case_id == case.id))
    assert submission.status == "submitted" and submission.language == locale
    assert submission.revision.version == form.version and submission.revision.form_id == form_id
    answers = service.answers_of(settings=settings, submission=submission)
    assert set(answers) == set(ANSWERS[form_id])
    name, value = SHOWN[form_id]
    assert answers[name] == value
    # Stored as a Fernet token (version byte 0x80 -> "gAAAAA"), never as readable text.
    assert submission.answers_encrypted.startswith("gAAAAA")
    assert value not in submission.answers_encrypted

    receipt_url = re.search(r'href="(/[a-z]{2}/forms/receipt/[^"]+\.pdf)"', sent.text).group(1)
    if locale != "pl" and (FORM_IDS.index(form_id) - KNOWN_LOCALES.index(locale)) % len(FORM_IDS):
        # The receipt is one template for every form: read whole for every form in Polish and for
        # every language on one form in turn (a PDF takes most of this test's time); the scripts'
        # receipts are read below.
        return
    pdf = client.get(receipt_url)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert reference in text and value in text
    label = form.fields[name].label
    assert service.form_text(label, locale) in text
    assert label in text  # the Polish wording beside it
    with use_locale(locale):
        from app.i18n import _

        assert _("Receipt of a sent form") in text
    if locale != "pl":
        assert "Potwierdzenie złożenia formularza" in text


def test_receipt_embeds_fonts_for_latin_and_cyrillic(client, settings, world):
    page = client.get("/be/forms/pismo-ogolne")
    sent = client.post("/be/forms/pismo-ogolne", data=post_data("pismo-ogolne", csrf_from(page.text)))
    url = re.search(r'href="(/be/forms/receipt/[^"]+\.pdf)"', sent.text).group(1)
    reader = PdfReader(io.BytesIO(client.get(url).content))
    fonts = {}
    for page_ in reader.pages:
        for font in page_["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            fonts[str(font["/BaseFont"])] = "/FontFile2" in descriptor
    assert fonts and all(fonts.values()), fonts  # every font is embedded
    assert all("DejaVu" in name for name in fonts)
    text = pdf_text(client.get(url).content)
    assert "Пацвярджэнне падачы бланка" in text
    assert "Агульны ліст ва ўстанову" in text and "Pismo ogólne do urzędu" in text


#: Answers typed in each script, with the words the receipt's text must give back.
SCRIPTS = {
    "ka": ("სამუშაოს ძიება კრაკოვში", "გამარჯობა, სად შემიძლია დავრეგისტრირდე დასაქმების სამსახურში?"),
    "hi": ("क्राकोव में नौकरी की तलाश", "नमस्ते, मैं श्रम कार्यालय में पंजीकरण कैसे करूँ?"),
    "ar": ("البحث عن عمل في كراكوف", "مرحبا، كيف أسجل في مكتب العمل؟"),
}
FONT_OF = {"ka": "Noto-Sans-Georgian", "hi": "Noto-Sans-Devanagari", "ar": "Noto-Naskh-Arabic"}


def _fonts(content: bytes) -> dict[str, bool]:
    fonts = {}
    for page_ in PdfReader(io.BytesIO(content)).pages:
        for font in page_["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            fonts[str(font["/BaseFont"])] = "/FontFile2" in descriptor
    return fonts


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_receipt_in_georgian_devanagari_and_arabic_extracts_back_to_its_words(client, world, script):
    """Shaped by Pango with the Noto font of each script, embedded: the PDF's text gives back the
    words as typed and, in a language Witaj speaks, the receipt's own labels, beside the Polish.
    (Answers in a script are typed in any language's form: an English form here when the script's
    language is not complete yet.)"""
    locale = script if script in KNOWN_LOCALES else "en"
    title, body = SCRIPTS[script]
    page = client.get(f"/{locale}/forms/pismo-ogolne")
    sent = client.post(
        f"/{locale}/forms/pismo-ogolne", data=post_data("pismo-ogolne", csrf_from(page.text), tytul=title, tresc=body)
    )
    url = re.search(rf'href="(/{locale}/forms/receipt/[^"]+\.pdf)"', sent.text).group(1)
    content = client.get(url).content
    fonts = _fonts(content)
    assert all(fonts.values()), fonts  # every font embedded
    if locale == script:  # typed in a form of another language, the text takes DejaVu, which has the letters too
        assert any(FONT_OF[script] in name for name in fonts), fonts
    text = unicodedata.normalize("NFKC", pdf_text(content))
    with use_locale(locale):
        from app.i18n import _

        label = _("Receipt of a sent form")
    assert (label != "Receipt of a sent form") is (locale != "en")  # the receipt speaks the language
    assert "Potwierdzenie złożenia formularza" in text
    if script == "ka":
        # Georgian has no reordering or joining: the text extracts back word for word.
        for word in f"{title} {body} {label}".replace(",", " ").replace("?", " ").split():
            assert word in text, (word, text)
    else:
        # Devanagari's vowel signs are drawn before their consonant and Arabic joins and runs right
        # to left: a PDF keeps the drawn glyphs, so extraction gives the letters, not their order.
        letters = re.compile(r"[\u0900-\u097f]" if script == "hi" else r"[\u0600-\u06ff]")
        typed = set(letters.findall(title + body))
        assert typed <= set(letters.findall(text)), typed - set(letters.findall(text))
        assert label in text or script == "ar"


def test_the_receipt_of_a_right_to_left_form_keeps_the_polish_left_to_right(client, db, settings, world):
    """The receipt's direction comes from its locale (Arabic: right to left), whatever the catalog holds."""
    from app.forms.pdf import receipt_html

    locale = "ar"
    page = client.get("/en/forms/pismo-ogolne")
    client.post("/en/forms/pismo-ogolne", data=post_data("pismo-ogolne", csrf_from(page.text), tytul=SCRIPTS["ar"][0]))
    submission = db.scalars(select(FormSubmission).order_by(FormSubmission.id.desc())).first()
    html = receipt_html(settings=settings, submission=submission, locale=locale)
    assert f'<html lang="{locale}" dir="rtl">' in html
    assert '<span class="pl" lang="pl" dir="ltr">Potwierdzenie złożenia formularza</span>' in html
    assert "text-align: start" in html and "Noto Naskh Arabic" in html


def test_receipt_needs_the_link_of_a_sent_form(client, world):
    assert client.get("/en/forms/receipt/" + "x" * 32 + ".pdf").status_code == 404
    page = client.get("/en/forms/pismo-ogolne")
    saved = client.post(
        "/en/forms/pismo-ogolne", data=post_data("pismo-ogolne", csrf_from(page.text), action="save")
    )
    token = re.search(r"/draft/([A-Za-z0-9_-]+)", saved.text).group(1)
    assert client.get(f"/en/forms/receipt/{token}.pdf").status_code == 404  # a draft has no receipt


def test_a_draft_is_saved_and_resumed_by_its_link(client, db, settings, world):
    page = client.get("/uk/forms/kurs-jezyka-polskiego")
    partial = post_data(
        "kurs-jezyka-polskiego", csrf_from(page.text), action="save", telefon=None, dni=["wt"]
    )
    saved = client.post("/uk/forms/kurs-jezyka-polskiego", data=partial)
    assert saved.status_code == 200 and saved.history[0].status_code == 303  # reloading saves nothing
    assert "Ваші відповіді збережено" in saved.text
    link = re.search(
        r'class="draft-link"><a href="(http://testserver/uk/forms/kurs-jezyka-polskiego/draft/[^"]+)"',
        saved.text,
    ).group(1)
    token = link.rsplit("/", 1)[1]
    draft = service.get_by_token(db=db, token=token)
    assert draft.status == "draft" and draft.case_id is None
    assert token not in draft.token_hash  # only a hash of the link is stored

    resumed = client.get(link.replace("http://testserver", ""))
    assert resumed.status_code == 200 and resumed.headers["cache-control"] == "no-store"
    assert 'value="Siarhei"' in resumed.text
    for part, value in (("day", "30"), ("month", "11"), ("year", "1995")):  # the date of birth, in its boxes
        assert f'name="data_urodzenia-{part}" value="{value}"' in resumed.text
    assert re.search(r'value="wt" checked', resumed.text) and not re.search(
        r'value="pn" checked', resumed.text
    )

    # Saving again keeps the same link; sending from it opens the case.
    again = client.post(
        f"/uk/forms/kurs-jezyka-polskiego/draft/{token}",
        data=post_data("kurs-jezyka-polskiego", csrf_from(resumed.text), action="save", telefon=None),
    )
    assert link in again.text
    sent = client.post(
        f"/uk/forms/kurs-jezyka-polskiego/draft/{token}",
        data=post_data("kurs-jezyka-polskiego", csrf_from(resumed.text)),
    )
    assert sent.status_code == 200 and str(sent.url).endswith(f"/uk/forms/kurs-jezyka-polskiego/sent/{token}")
    db.expire_all()
    submission = service.get_by_token(db=db, token=token)
    assert submission.status == "submitted" and submission.case.category == "polish_course"

    # The link now shows the sent form (no secret code), and cannot be sent twice.
    after = client.get(f"/uk/forms/kurs-jezyka-polskiego/draft/{token}")
    assert "Цей формуляр уже надіслано." in after.text and submission.case.reference in after.text
    twice = client.post(
        f"/uk/forms/kurs-jezyka-polskiego/draft/{token}",
        data=post_data("kurs-jezyka-polskiego", csrf_from(resumed.text)),
        follow_redirects=False,
    )
    assert twice.status_code == 303
    assert (
        db.scalar(
            select(CaseFile).where(CaseFile.category == "polish_course").order_by(CaseFile.id.desc())
        ).id
        == submission.case_id
    )


def test_without_javascript_the_form_shows_the_questions_that_apply(client, world):
    page = client.get("/en/forms/pomoc-organizacji")
    assert re.search(r'id="w-jezyk_specjalisty"\s+hidden', page.text)
    refreshed = client.post(
        "/en/forms/pomoc-organizacji",
        data={
            "csrf_token": csrf_from(page.text),
            "_action": "refresh",
            "rodzaj_pomocy": "psychologiczna",
            "imie": "Ola",
        },
    )
    assert refreshed.status_code == 200
    assert not re.search(r'id="w-jezyk_specjalisty"\s+hidden', refreshed.text)
    assert re.search(r'id="w-utrata_mieszkania"\s+hidden', refreshed.text)
    assert (
        'value="Ola"' in refreshed.text
        and 'error-message" id="e-imie" aria-live="polite"></p>' in refreshed.text
    )


def test_live_check_with_htmx_answers_one_question_and_swaps_only_what_changed(client, world):
    page = client.get("/ru/forms/pismo-ogolne")
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_from(page.text)}
    base = {"sposob_odpowiedzi": "email", "_shown": ["email"], "email": "not-an-address", "_field": "email"}
    bad = client.post("/ru/forms/pismo-ogolne/check", data=base, headers=headers)
    assert bad.status_code == 200
    assert bad.text.split("<")[0].strip() == "Введите правильный адрес электронной почты."
    assert "hx-swap-oob" not in bad.text  # nothing else changed

    moved = client.post(
        "/ru/forms/pismo-ogolne/check",
        data={**base, "_field": "sposob_odpowiedzi", "sposob_odpowiedzi": "poczta"},
        headers=headers,
    )
    assert moved.text.split("<")[0].strip() == ""  # the changed question itself is fine
    assert re.search(r'id="w-email"\s+hidden', moved.text)  # e-mail no longer asked
    assert re.search(r'id="w-adres_korespondencyjny"(?!\s+hidden)', moved.text)
    assert moved.text.count("hx-swap-oob") == 2


def test_staff_read_the_answers_with_polish_labels_and_partners_do_not(client, db, settings, world, login):
    page = client.get("/uk/forms/gup-rejestracja")
    sent = client.post("/uk/forms/gup-rejestracja", data=post_data("gup-rejestracja", csrf_from(page.text)))
    reference = re.search(r"<code>(KRK-\d{4}-\d{6})</code>", sent.text).group(1)
    login("caseworker@cases.example.org", "long enough password")
    case_page = client.get(f"/en/staff/cases/{reference}")
    assert f"/en/staff/forms/cases/{reference}" in case_page.text
    answers = client.get(f"/en/staff/forms/cases/{reference}")
    assert answers.status_code == 200
    assert "Zgłoszenie do rejestracji jako osoba bezrobotna lub poszukująca pracy" in answers.text
    assert "<dt>Poziom wykształcenia</dt>" in answers.text and "<dd>wyższe</dd>" in answers.text
    assert "17 maja 1990" in answers.text  # dates in Polish
    assert "ukraiński, polski" not in answers.text and "polski, ukraiński, inny" in answers.text
    case = db.scalar(select(CaseFile).where(CaseFile.reference == reference))
    assert db.scalar(
        select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.action == "view_form_answers")
    )
    receipt = client.get(re.search(r'href="(/en/staff/forms/cases/[^"]+\.pdf)"', answers.text).group(1))
    assert receipt.status_code == 200 and "Kowalenko" in pdf_text(receipt.content)

    client.post("/en/staff/logout", data={"csrf_token": csrf_from(case_page.text)})
    login("staff_a@cases.example.org", "long enough password")
    assert client.get(f"/en/staff/forms/cases/{reference}").status_code in (403, 404)


def test_translation_coverage_page_is_for_administrators(client, make_user, login):
    from app.auth.enums import Role

    admin, password = make_user(Role.admin)
    login(admin.email, password)
    page = client.get("/en/staff/translations")
    assert page.status_code == 200
    for name in ("Polski", "Українська", "Русский", "English", "Беларуская"):
        assert name in page.text
    assert "City forms" in page.text and "100" in page.text and "incomplete" not in page.text
    worker, password = make_user(Role.caseworker)
    client.cookies.clear()
    login(worker.email, password)
    assert client.get("/en/staff/translations").status_code == 403


def test_free_text_answers_get_a_machine_translation_beside_the_original(client, world, login, monkeypatch):
    from app.translation import service as mt
    from app.translation.base import Translation

    asked = []

    def translate_within(settings, text, source, target):
        asked.append((text, source, target))
        return Translation(
            text="Właściciel wypowiedział umowę.",
            source=source,
            target=target,
            engine="test",
            model_version="1",
        )

    monkeypatch.setattr(mt, "translate_within", translate_within)
    page = client.get("/uk/forms/pomoc-organizacji")
    opis = "Власник розірвав договір оренди, маємо виїхати за тиждень."
    sent = client.post(
        "/uk/forms/pomoc-organizacji", data=post_data("pomoc-organizacji", csrf_from(page.text), opis=opis)
    )
    reference = re.search(r"<code>(KRK-\d{4}-\d{6})</code>", sent.text).group(1)
    login("caseworker@cases.example.org", "long enough password")
    answers = client.get(f"/en/staff/forms/cases/{reference}").text
    assert f'<span class="free-text" lang="uk" dir="ltr">{opis}</span>' in answers  # the original, always
    assert "Machine translated" in answers and "Właściciel wypowiedział umowę." in answers
    assert asked == [(opis, "uk", "pl")]  # only the description, not names or numbers
