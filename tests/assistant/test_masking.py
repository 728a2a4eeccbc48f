"""Masking personal data before content editors read unanswered messages (issue 18, privacy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.assistant.data import load_dialogues
from app.assistant.masking import KINDS, mask, vocabulary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def known() -> frozenset[str]:
    return vocabulary(load_dialogues(ROOT / "dialogues"))


#: Questions without personal data, as newcomers type them (accents or none, any case): none may change.
CLEAN = [
    # pl
    "jak zarejestrować się w urzędzie pracy",
    "Gdzie jest najbliższa biblioteka w Nowej Hucie?",
    "potrzebuje pomocy z karta pobytu",
    "Czy MOPS pomaga z czynszem? Mieszkam w Krakowie od marca.",
    "ile kosztuje bilet miesięczny MPK, słyszałem że 80 zł",
    "mam spotkanie 12.03.2025 o 17:00 w Urzędzie Wojewódzkim",
    "Jestem z Ukrainy i szukam pracy w Krakowie",
    "jak dostać numer PESEL dla dziecka",
    "jestem bezrobotna, co mam zrobić",
    "Kod pocztowy 31-123, czy to Krowodrza?",
    # uk
    "Як зареєструватися в центрі зайнятості?",
    "де знайти бібліотеку в Новій Хуті",
    "Мені потрібна допомога з орендою квартири",
    "Чи можна отримати PESEL у Кракові?",
    "я з України, шукаю роботу",
    "скільки коштує проїзний на місяць",
    # ru
    "Где найти библиотеку в Новой Хуте?",
    "как получить карту побыту",
    "Мне нужна помощь с работой в Кракове",
    "я безработный, что делать",
    "Сколько стоит врач, если у меня нет NFZ?",
    "где бесплатные курсы польского языка",
    # en
    "I need help with my rent in Kraków",
    "I'm looking for a job in Nowa Huta",
    "Where can I register as unemployed?",
    "How do I get a PESEL number for my child?",
    "I am from Ukraine and I need a doctor",
    "Is the library open on Saturday evening?",
    "I'm new here, where is the MOPS office?",
    "My rent is 2500 zł, can I get help from 2024 to 2025?",
    # be
    "Як зарэгістравацца ў цэнтры занятасці?",
    "дзе знайсці бібліятэку ў Новай Хуце",
    "Мне патрэбна дапамога з працай у Кракаве",
    "я з Беларусі, шукаю працу",
    "колькі каштуе праязны",
    # es
    "necesito un permiso de trabajo",
    "¿Dónde está la biblioteca en Nowa Huta?",
    "Soy de Venezuela y busco trabajo en Cracovia",
    "cómo me registro en la oficina de empleo",
    "necesito ayuda con el alquiler",
    "¿Cuánto cuesta el billete mensual?",
    # tr
    "iş izni nasıl alırım",
    "Krakow'da kütüphane nerede?",
    "kira için yardıma ihtiyacım var",
    "Ben Türkiye'denim, iş arıyorum",
    "PESEL numarası nasıl alınır?",
    # vi
    "làm sao để đăng ký thất nghiệp",
    "Thư viện ở Nowa Huta ở đâu?",
    "tôi cần giấy phép lao động",
    "Tôi đến từ Việt Nam và tôi cần bác sĩ",
    "tôi muốn học tiếng Ba Lan",
    # ar
    "كيف أسجل في مكتب العمل",
    "أين المكتبة في نوفا هوتا؟",
    "أحتاج مساعدة في الإيجار",
    "انا من سوريا وابحث عن عمل",
    "كم سعر التذكرة الشهرية",
    # hi
    "मुझे नौकरी चाहिए",
    "पुस्तकालय कहाँ है?",
    "मुझे किराए में मदद चाहिए",
    "मैं भारत से हूँ और मुझे डॉक्टर चाहिए",
    "PESEL कैसे मिलेगा?",
    # ka
    "როგორ დავრეგისტრირდე",
    "სად არის ბიბლიოთეკა ნოვა ჰუტაში?",
    "მჭირდება დახმარება ქირასთან დაკავშირებით",
    "მე ვარ საქართველოდან და ვეძებ სამუშაოს",
    "რამდენი ღირს თვიური ბილეთი?",
]

#: Messages with personal data: (message, what must be gone, what must survive).
PERSONAL = [
    # pl
    ("Nazywam się Olena Kowalenko, szukam pracy", ["Olena", "Kowalenko"], ["szukam pracy"]),
    ("nazywam sie olena i potrzebuje pomocy", ["olena"], ["potrzebuje pomocy"]),
    ("mam na imię Marta, mój numer to 600 123 456", ["Marta", "600 123 456", "123"], ["mój numer to"]),
    ("Mój PESEL: 92010112345, proszę o pomoc", ["92010112345"], ["proszę o pomoc"]),
    ("zadzwoń na 600-123-456 albo +48 600 123 457", ["600-123-456", "600 123 457"], ["zadzwoń"]),
    ("telefon stacjonarny (12) 345 67 89, jutro", ["345 67 89"], ["jutro"]),
    ("Mieszkam na ul. Długa 5/3 w Krakowie", ["Długa 5/3"], ["Mieszkam na", "w Krakowie"]),
    ("Pani Anna z MOPS powiedziała, że mogę przyjść", ["Anna"], ["z MOPS powiedziała"]),
    ("status sprawy krk-2026-000777 proszę", ["krk-2026-000777", "000777"], ["status sprawy"]),
    ("mój e-mail: olena.k@gmail.com", ["olena.k", "gmail"], ["mój e-mail"]),
    ("konto PL61 1090 1014 0000 0712 1981 2874 do zwrotu", ["1090", "2874"], ["do zwrotu"]),
    # uk
    ("Мене звати Олена Шевченко, мені потрібна робота", ["Олена", "Шевченко"], ["мені потрібна робота"]),
    ("мене звуть Тарас, телефон +380 67 123 4567", ["Тарас", "123 4567"], ["телефон"]),
    ("моє ім'я Іван, паспорт FE123456", ["Іван", "FE123456"], ["паспорт"]),
    ("Я живу на вул. Шевченка 10, кв. 4", ["Шевченка 10"], ["Я живу на"]),
    ("mene zvaty Oksana, dopomozhit", ["Oksana"], ["dopomozhit"]),
    # ru
    ("Меня зовут Ольга, мой номер 067 123 4567", ["Ольга", "067 123 4567"], ["мой номер"]),
    ("меня зовут дмитрий петров, нужна работа", ["дмитрий", "петров"], ["нужна работа"]),
    ("Вчера господин Иванов сказал мне прийти", ["Иванов"], ["сказал мне прийти"]),
    ("пишите на почту ivan.petrov@mail.ru", ["ivan.petrov", "mail.ru"], ["пишите на почту"]),
    # en
    ("My name is Anna Kowalska, phone +48 600 123 456", ["Anna", "Kowalska", "600"], ["My name is", "phone"]),
    ("Hi, I'm Oksana and I need help with rent", ["Oksana"], ["and I need help with rent"]),
    ("write to anna (at) wp (dot) pl please", ["anna", "wp"], ["write to", "please"]),
    ("my card is 4111 1111 1111 1111 and it was blocked", ["4111"], ["and it was blocked"]),
    ("I spoke with Mr Nowak yesterday about my case", ["Nowak"], ["yesterday about my case"]),
    ("call me on 0048 600 123 456 after 17:00", ["600 123 456"], ["after 17:00"]),
    # be
    ("Мяне завуць Алесь Багдановіч, дапамажыце", ["Алесь", "Багдановіч"], ["дапамажыце"]),
    ("мой тэлефон 600123456, чакаю", ["600123456"], ["чакаю"]),
    # es
    ("Hola, me llamo María García y necesito trabajo", ["María", "García"], ["y necesito trabajo"]),
    ("mi nombre es jose luis, mi correo es jose.luis@hotmail.es", ["jose", "luis@", "hotmail"], ["mi correo es"]),
    ("Hablé con la Sra. Fernández sobre mi permiso", ["Fernández"], ["sobre mi permiso"]),
    ("mi pasaporte es AB1234567", ["AB1234567", "1234567"], ["mi pasaporte es"]),
    # tr
    ("Benim adım Ahmet Yılmaz, iş arıyorum", ["Ahmet", "Yılmaz"], ["iş arıyorum"]),
    ("adım mehmet, telefonum 0532 123 45 67", ["mehmet", "0532", "45 67"], ["telefonum"]),
    ("Dün Ayşe Hanım ile konuştum", ["Ayşe"], ["ile konuştum"]),
    # vi
    ("Tên tôi là Nguyễn Văn An, tôi cần việc làm", ["Nguyễn", "Văn An"], ["tôi cần việc làm"]),
    ("ten toi la lan, so dien thoai 0912 345 678", ["lan", "0912", "345 678"], ["so dien thoai"]),
    ("Hôm qua chị Lan ở văn phòng đã giúp tôi", ["Lan"], ["ở văn phòng"]),
    # ar
    ("اسمي أحمد محمد وأريد عمل", ["أحمد", "محمد"], ["وأريد عمل"]),
    ("انا فاطمة، رقمي 600123456", ["فاطمة", "600123456"], ["رقمي"]),
    ("ismi Omar, ana sakin fi Nowa Huta", ["Omar"], ["Nowa Huta"]),
    # hi
    ("मेरा नाम राहुल शर्मा है और मुझे नौकरी चाहिए", ["राहुल", "शर्मा"], ["है और मुझे नौकरी चाहिए"]),
    ("mera naam Priya hai, mera number 98765 43210", ["Priya", "98765", "43210"], ["mera number"]),
    # ka
    ("ჩემი სახელია გიორგი, მინდა სამსახური", ["გიორგი"], ["მინდა სამსახური"]),
    ("მე მქვია ნინო და ჩემი ნომერია +995 555 12 34 56", ["ნინო", "555 12 34 56"], ["ჩემი ნომერია"]),
    ("chemi saxelia Levani, pesel 85030312346", ["Levani", "85030312346"], ["pesel"]),
]


@pytest.mark.parametrize("message", CLEAN)
def test_messages_without_personal_data_are_unchanged(message: str, known: frozenset[str]) -> None:
    assert mask(message, known_words=known).text == message


def test_the_clean_corpus_covers_every_language_and_the_personal_one_all_kinds() -> None:
    assert len(CLEAN) >= 60 and len(PERSONAL) >= 40
    masked = set().union(*(mask(text).kinds for text, _, _ in PERSONAL))
    assert masked == set(KINDS)


@pytest.mark.parametrize(("message", "gone", "kept"), PERSONAL)
def test_personal_data_is_gone_and_the_rest_survives(
    message: str, gone: list[str], kept: list[str], known: frozenset[str]
) -> None:
    masked = mask(message, known_words=known)
    for item in gone:
        assert item not in masked.text, masked.text
    for item in kept:
        assert item in masked.text, masked.text
    assert masked.counts and all(f"[{kind}]" in masked.text for kind in masked.kinds)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("+48 600 123 456", "[phone]"),
        ("600-123-456", "[phone]"),
        ("600.123.456", "[phone]"),
        ("600123456", "[phone]"),
        ("(12) 345 67 89", "[phone]"),
        ("+380 67 123 4567", "[phone]"),
        ("+380 (67) 123-45-67", "[phone]"),
        ("0048 600 123 456", "[phone]"),
        ("44021212341", "[PESEL]"),
        ("12345678901", "[PESEL]"),  # an invalid checksum is masked all the same
        ("KRK-2026-000123", "[case]"),
        ("PL61 1090 1014 0000 0712 1981 2874", "[number]"),
        ("61 1090 1014 0000 0712 1981 2874", "[number]"),
        ("anna.kowalska@example.com", "[e-mail]"),
        ("олена.ковальчук@укр.нет", "[e-mail]"),
    ],
)
def test_each_shape_has_its_placeholder(message: str, expected: str) -> None:
    assert mask(message).text == expected


@pytest.mark.parametrize(
    "message",
    [
        "12.03.2025",
        "2025-03-12",
        "12/03/25",
        "od 12.03 do 15.03",
        "17:00-18:30",
        "w 2024 i 2025 roku",
        "2024-2025",
        "500 zł",
        "1 500 zł",
        "100 000 zł",
        "500-1000 zł miesięcznie",
        "31-123 Kraków",
        "PIT-11",
        "112",
        "dom nr 5, 3 piętro",
    ],
)
def test_dates_times_years_sums_and_postcodes_are_kept(message: str) -> None:
    # Postcodes are kept on purpose: they name a district of thousands, not a person.
    assert mask(message).text == message


def test_a_known_capitalised_word_is_kept_and_an_unknown_one_is_a_name() -> None:
    assert mask("I live in Nowa Huta", known_words={"nowa", "huta"}).text == "I live in Nowa Huta"
    assert mask("I live in Nowa Huta").text == "I live in [name]"
    assert mask("pytałam w PUP wczoraj").text == "pytałam w PUP wczoraj"  # acronyms are institutions


def test_inflected_forms_of_known_words_are_known() -> None:
    assert mask("Mieszkam w Krakowie", known_words={"kraków"}).text == "Mieszkam w Krakowie"


def test_sentence_initial_words_are_kept_but_not_after_a_placeholder() -> None:
    assert mask("Olena here. Anna too").text == "Olena here. Anna too"
    assert mask("600123456 Anna").text == "[phone] [name]"


def test_adjacent_names_make_one_placeholder_and_counts_say_how_many() -> None:
    masked = mask("I met Olena Kowalenko and Iryna Bondar, olena@x.pl, iryna@x.pl")
    assert masked.text == "I met [name] and [name], [e-mail], [e-mail]"
    assert masked.counts == {"name": 2, "e-mail": 2}


def test_placeholders_are_never_masked_again() -> None:
    text = " ".join(f"[{kind}]" for kind in KINDS)
    assert mask(f"Hello {text}").text == f"Hello {text}"


def test_a_name_typed_in_brackets_is_still_masked() -> None:
    assert mask("kontakt: pani [Olena] z biura").text == "kontakt: pani [[name]] z biura"


def test_no_text_raises() -> None:
    assert mask("").text == ""
    assert mask("   ").text == "   "


EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
#: Text that looks like messages: words, names, digits, separators and placeholders mixed.
_PIECES = st.sampled_from(
    [" ", "  ", ".", ",", "-", "/", "+", "(", ")", "@", ":", "\n", "[", "]", "Anna", "anna", "Kraków", "ul.",
     "my name is", "меня зовут", "اسمي", "Pani", "[name]", "[phone]", "48", "600", "00", "KRK-2026-", "x@y.pl"]
)
MESSAGES = st.lists(st.one_of(_PIECES, st.text(max_size=6), st.from_regex(r"\d{1,12}", fullmatch=True)), max_size=14).map("".join)


@settings(max_examples=150, deadline=None)
@given(MESSAGES)
def test_masking_never_raises_is_idempotent_and_leaves_no_pesel_or_email(message: str) -> None:
    once = mask(message, known_words={"kraków", "pani"}).text
    assert mask(once, known_words={"kraków", "pani"}).text == once
    assert not re.search(r"\d{11}", once)
    assert not EMAIL.search(once)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_any_text_at_all(message: str) -> None:
    once = mask(message).text
    assert mask(once).text == once
    assert not re.search(r"\d{11}", once)
