"""City forms in a real browser (Chromium): one filled without JavaScript, one with htmx live checks."""

from __future__ import annotations

import re

import pytest

from tests.browser import collect_console_errors

pytestmark = pytest.mark.browser
# `site` and `browser` come from tests/browser.py: the default site holds the city office, no staff.


def test_a_form_filled_without_javascript(site, browser):
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    page.goto(site + "/en/forms/pismo-ogolne")
    assert page.locator("#w-email").is_hidden()  # asked only for an answer by e-mail
    page.check("input[name=adresat][value=umk]")
    page.check("input[name=rodzaj_pisma][value=zapytanie]")
    page.fill("#f-tytul", "Registration of residence")
    page.fill("#f-tresc", "Good morning, how do I register my temporary residence in Kraków?")
    page.fill("#f-imie", "John")
    page.fill("#f-nazwisko", "Smith")
    page.check("input[name=sposob_odpowiedzi][value=email]")
    page.get_by_role("button", name="Show the questions that apply to my answers").last.click()
    page.wait_for_load_state()
    assert page.locator("#w-email").is_visible()
    assert page.input_value("#f-tytul") == "Registration of residence"  # nothing lost on the way
    page.get_by_role("button", name="Send the form").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert "Please correct the marked fields." in alert.inner_text()
    assert page.locator("#e-email").inner_text() == "This field is required."
    page.fill("#f-email", "john@example.org")
    page.check("#f-klauzula_rodo")
    page.get_by_role("button", name="Send the form").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Your form has been sent"
    assert re.search(r"KRK-\d{4}-\d{6}", page.content())
    receipt = page.get_by_role("link", name="Download the receipt (PDF)").get_attribute("href")
    response = context.request.get(site + receipt)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    context.close()


def test_a_form_filled_with_live_checks_and_skip_logic(site, browser):
    from playwright.sync_api import expect

    page = browser.new_page(locale="uk-UA")
    errors = collect_console_errors(page)
    page.goto(site + "/uk/forms/pomoc-organizacji")
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.locator("#w-jezyk_specjalisty").is_hidden()
    # The Polish wording stands under the Ukrainian label.
    assert page.locator("#w-rodzaj_pomocy legend .official").inner_text() == "Jakiej pomocy potrzebujesz?"
    page.check("input[name=rodzaj_pomocy][value=psychologiczna]")
    page.locator("#w-jezyk_specjalisty").wait_for(state="visible")
    assert page.locator("#w-zgoda_dane_wrazliwe").is_visible()
    assert page.locator("#w-utrata_mieszkania").is_hidden()
    page.check("input[name=jezyk_specjalisty][value=ukrainski]")
    page.fill("#f-opis", "Коротко")
    page.locator("#f-opis").blur()
    expect(page.locator("#e-opis")).to_have_text("Опишіть ситуацію щонайменше 20 символами.")
    page.fill("#f-opis", "Після переїзду мені важко спати, потрібна розмова з психологом.")
    page.locator("#f-opis").blur()
    expect(page.locator("#e-opis")).to_have_text("")
    page.fill("#f-imie", "Оксана")
    page.check("input[name=forma_kontaktu][value=email]")
    page.locator("#w-email").wait_for(state="visible")
    page.fill("#f-email", "oksana@")
    page.locator("#f-email").blur()
    expect(page.locator("#e-email")).to_have_text("Введіть правильну адресу електронної пошти.")
    page.fill("#f-email", "oksana@example.org")
    page.check("#f-zgoda_przekazanie")
    page.check("#f-zgoda_dane_wrazliwe")
    page.get_by_role("button", name="Надіслати формуляр").click()
    page.get_by_role("heading", name="Ваш формуляр надіслано").wait_for()
    assert re.search(r"KRK-\d{4}-\d{6}", page.content())
    assert errors == []
    page.close()


def test_with_javascript_errors_take_the_focus_and_the_secret_is_shown_once(site, browser):
    """Issue 12 in a real browser: no no-JavaScript button in the way; a date of birth in three boxes,
    checked live (aria-invalid, the error style and the message tied to the boxes, all cleared when
    fixed); after a failed send the focus is on the error summary, whose links focus the inputs; the
    sent form's page follows a redirect, shows the secret once, and a reload shows it no more."""
    from playwright.sync_api import expect

    page = browser.new_page(locale="en-GB")
    errors = collect_console_errors(page, expected_statuses=(422,))
    page.goto(site + "/en/forms/biblioteka-karta")
    assert page.evaluate("document.documentElement.classList.contains('js')")
    refresh = page.get_by_role("button", name="Show the questions that apply to my answers")
    expect(refresh.first).to_be_hidden()
    page.locator("#f-dokument").focus()
    page.keyboard.press("Tab")  # past the button's place, to the next question
    expect(page.locator("#f-adres")).to_be_focused()
    day, month, year = page.locator("#f-data_urodzenia"), page.locator("#f-data_urodzenia-month"), page.locator("#f-data_urodzenia-year")
    day.fill("1")
    month.fill("2")
    year.fill("2999")
    year.blur()
    expect(page.locator("#e-data_urodzenia")).to_have_text("The date of birth cannot be in the future.")
    expect(year).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#w-data_urodzenia")).to_have_class(re.compile(r"\bfield-error\b"))
    expect(page.locator("#w-data_urodzenia fieldset")).to_have_attribute("aria-describedby", re.compile(r"\be-data_urodzenia\b"))
    assert page.locator("#s-opiekun").is_hidden()  # a future date is no child's
    year.fill("1985")
    year.blur()
    expect(page.locator("#e-data_urodzenia")).to_have_text("")
    expect(year).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#w-data_urodzenia")).not_to_have_class(re.compile(r"\bfield-error\b"))
    expect(page.locator("#w-data_urodzenia fieldset")).to_have_attribute("aria-describedby", "h-data_urodzenia")

    page.get_by_role("button", name="Send the form").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    summary.get_by_role("link").first.click()
    expect(page.locator("#f-imie")).to_be_focused()

    page.fill("#f-imie", "Andrij")
    page.fill("#f-nazwisko", "Melnyk")
    page.fill("#f-dokument", "FE123456")
    page.fill("#f-adres", "os. Centrum A 1/10, 31-923 Kraków")
    page.select_option("#f-dzielnica", "Nowa Huta")
    page.check("#f-powiadomienia-2")  # no
    page.check("#f-regulamin")
    page.check("#f-klauzula_rodo")
    page.get_by_role("button", name="Send the form").click()
    page.get_by_role("heading", name="Your form has been sent").wait_for()
    assert "/en/forms/biblioteka-karta/sent/" in page.url
    codes = page.locator(".codes code").all_inner_texts()
    assert len(codes) == 2 and re.fullmatch(r"KRK-\d{4}-\d{6}", codes[0])
    assert codes[1] not in page.url
    page.reload()
    expect(page.locator(".codes code")).to_have_count(1)
    assert codes[1] not in page.content()
    assert errors == []
    page.close()


def test_switching_the_language_without_javascript_keeps_the_answers(site, browser):
    context = browser.new_context(java_script_enabled=False, locale="uk-UA")
    page = context.new_page()
    page.goto(site + "/uk/forms/pismo-ogolne")
    page.fill("#f-tytul", "Реєстрація проживання")
    page.fill("#f-imie", "Оксана")
    page.check("input[name=adresat][value=umk]")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.input_value("#f-tytul") == "Реєстрація проживання" and page.input_value("#f-imie") == "Оксана"
    assert page.is_checked("input[name=adresat][value=umk]")
    assert page.get_by_role("button", name="Show the questions that apply to my answers").first.is_visible()
    context.close()
