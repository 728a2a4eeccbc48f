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
