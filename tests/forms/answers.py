"""Valid answers to every shipped form, as a browser posts them, and what each form stores from them."""

from __future__ import annotations

ANSWERS: dict[str, dict[str, str | list[str]]] = {
    "gup-rejestracja": {
        "rodzaj_rejestracji": "bezrobotny",
        "imie": "Olena",
        "nazwisko": "Kowalenko",
        "data_urodzenia": "1990-05-17",
        "obywatelstwo": "ukraińskie",
        "obywatel_ue": "no",
        "ma_pesel": "yes",
        "pesel": "90051712345",
        "podstawa_pobytu": "ochrona_czasowa",
        "adres": "ul. Długa 1/2, 31-147 Kraków",
        "dzielnica": "Stare Miasto",
        "telefon": "+48 600 100 200",
        "email": "olena@example.org",
        "wyksztalcenie": "wyzsze",
        "zawod": "księgowa",
        "staz_lat": "7",
        "jezyki": ["ukrainski", "polski", "inny"],
        "jezyk_inny": "gruziński",
        "prawo_jazdy": "yes",
        "oswiadczenie_prawda": "yes",
        "klauzula_rodo": "yes",
    },
    "biblioteka-karta": {
        "imie": "Andrij",
        "nazwisko": "Melnyk",
        "data_urodzenia": "1985-02-01",
        "dokument": "FE123456",
        "adres": "os. Centrum A 1/10, 31-923 Kraków",
        "dzielnica": "Nowa Huta",
        "email": "andrij@example.org",
        "powiadomienia": "yes",
        "jezyki_zbiorow": ["ukrainski", "angielski"],
        "regulamin": "yes",
        "klauzula_rodo": "yes",
    },
    "kurs-jezyka-polskiego": {
        "imie": "Siarhei",
        "nazwisko": "Ivanou",
        "data_urodzenia": "1995-11-30",
        "obywatelstwo": "białoruskie",
        "jezyk_ojczysty": "białoruski",
        "poziom": "a1",
        "wczesniej_kurs": "no",
        "cel": ["praca", "codzienne_zycie"],
        "forma": "stacjonarnie",
        "dzielnica": "Krowodrza",
        "dni": ["wt", "cz"],
        "pora": "wieczor",
        "opieka_nad_dziecmi": "yes",
        "liczba_dzieci": "2",
        "telefon": "+48 511 222 333",
        "email": "siarhei@example.org",
        "klauzula_rodo": "yes",
    },
    "program-kulturalny": {
        "program": "warsztaty_rodzinne",
        "liczba_osob": "3",
        "liczba_dzieci": "2",
        "wiek_dzieci": "5 i 8 lat",
        "imie": "Maria",
        "nazwisko": "Petrova",
        "email": "maria@example.org",
        "dzielnica": "Podgórze",
        "potrzeby": ["tlumaczenie_ru", "inne"],
        "potrzeby_inne": "Miejsce na wózek dziecięcy.",
        "wizerunek": "no",
        "klauzula_rodo": "yes",
    },
    "pomoc-organizacji": {
        "rodzaj_pomocy": "mieszkaniowa",
        "utrata_mieszkania": "yes",
        "liczba_osob": "3",
        "opis": "Właściciel wypowiedział nam umowę najmu, musimy się wyprowadzić za tydzień.",
        "imie": "Iryna",
        "forma_kontaktu": "telefon",
        "telefon": "+48 698 765 432",
        "dzielnica": "Bieżanów-Prokocim",
        "zgoda_przekazanie": "yes",
    },
    "pismo-ogolne": {
        "adresat": "umk",
        "rodzaj_pisma": "zapytanie",
        "tytul": "Pytanie o meldunek",
        "tresc": "Dzień dobry, jak mogę zameldować się na pobyt czasowy w Krakowie?",
        "imie": "John",
        "nazwisko": "Smith",
        "sposob_odpowiedzi": "email",
        "email": "john@example.org",
        "klauzula_rodo": "yes",
    },
}

#: The case category each form's answers above lead to.
CATEGORY = {
    "gup-rejestracja": "labour_registration",
    "biblioteka-karta": "library",
    "kurs-jezyka-polskiego": "polish_course",
    "program-kulturalny": "culture",
    "pomoc-organizacji": "housing",
    "pismo-ogolne": "other",
}

#: A short answer of each form that the receipt shows as written, and the field's name.
SHOWN = {
    "gup-rejestracja": ("nazwisko", "Kowalenko"),
    "biblioteka-karta": ("nazwisko", "Melnyk"),
    "kurs-jezyka-polskiego": ("nazwisko", "Ivanou"),
    "program-kulturalny": ("nazwisko", "Petrova"),
    "pomoc-organizacji": ("imie", "Iryna"),
    "pismo-ogolne": ("nazwisko", "Smith"),
}


def post_data(form_id: str, csrf: str, action: str = "submit", **changes: str | list[str] | None) -> dict:
    """Return the form's valid answers as posted, with changes (None removes an answer)."""
    data = {**ANSWERS[form_id], **changes}
    return {k: v for k, v in data.items() if v is not None} | {"csrf_token": csrf, "_action": action}
