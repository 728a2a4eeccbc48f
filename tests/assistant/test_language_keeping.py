"""A conversation keeps its language for what carries none: references, secrets, e-mail addresses,
phone numbers, dates, numbers and codes, and any value typed while a form asks for one (issue 12,
item 2). Through both HTTP channels, in every language, with the real dialogues and NLU model."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.assistant import flows
from app.assistant.models import Conversation
from app.assistant.runtime import Tracker
from app.cases import service as case_service
from app.cases.content import case_content
from app.cases.events import CLIENT
from app.cases.schemas import CaseIn, ClientIn
from app.crypto import hash_secret
from app.i18n import translations
from app.languages import KNOWN_LOCALES, carries_language, detect_language, is_value, language_words
from tests.assistant.test_channels import response_text, rest
from tests.conftest import csrf_from

LANGUAGES = list(KNOWN_LOCALES)

#: "I want to check the status of my case", as a newcomer would write it in each language.
ASK_STATUS = {
    "pl": "Chcę sprawdzić status mojej sprawy",
    "uk": "Хочу перевірити статус звернення",
    "ru": "Хочу проверить статус моего обращения",
    "en": "I would like to check the status of my case",
    "be": "Хачу праверыць статус маёй справы",
    "es": "Quiero consultar el estado de mi caso",
    "hi": "मैं अपने केस का स्टेटस देखना चाहता हूँ",
    "ka": "მინდა ჩემი საქმის სტატუსის შემოწმება",
    "tr": "Başvurumun durumunu kontrol etmek istiyorum",
    "vi": "Tôi muốn kiểm tra tình trạng hồ sơ của tôi",
    "ar": "أريد التحقق من حالة ملفي",
}

#: Secrets of every shape a newcomer may type: mixed case and digits (the older token_urlsafe ones,
#: with - and _), capitals and digits, a readable secret typed in groups with two letters-only
#: groups, and letters only, which detection alone reads as a word of some language (Polish,
#: English, grouped or not): typed into the status form, they are values all the same.
SECRETS = [
    "Xk9fPq2Lm",
    "Kp_3x-Yz9Q",
    "7HZQ4MXK9",
    "7K3M QXDW KRTM H5NP",
    "skcsxffee",
    "qjzyjwunk",
    "QCVJ-VXCR",
    "KSPS-XRJA",
]

#: Messages that carry no language: each must leave any conversation's language as it was.
LANGUAGE_LESS = [
    "KRK-2026-000123",
    "krk 2026 000123",
    "KRK-2026-000123 Xk9fPq2Lm",
    "KRK-2026-000123, Kp_3x-Yz9Q",
    "aB3dE5fG7",
    "fHqzLwPtrA",
    # a readable secret as shown, and typed in groups: letters-only groups belong to the code
    "7K3M-QXDW-2WRT-H5NP",
    "7K3M QXDW 2WRT H5NP",
    "QXDW KRTM 2WRT H5NP",
    "qxdw krtm 2wrt h5np",
    "KRK-2026-000123 7K3M QXDW KRTM H5NP",
    "anna.kowalska@example.com",
    "olena_petrenko+chat@gmail.com",
    "+48 600 123 456",
    "+380 67 123 45 67",
    "(12) 616-78-00",
    "2026-03-14",
    "14.03.2026",
    "14/03/2026",
    "31-011",
    "42",
    "92071314764",
    "https://www.krakow.pl/",
    "B2",
]


@pytest.fixture
def status_case(db, settings, world):
    """Return a case (its reference) whose secret is set per test."""
    case, _secret = case_service.create(
        db=db,
        settings=settings,
        client=ClientIn(display_name="Chat visitor", preferred_language="uk"),
        case=CaseIn(category="housing", subject="Deposit", source="chat"),
        actor=CLIENT,
    )
    db.commit()

    def with_secret(secret: str) -> str:
        case.secret_hash = hash_secret(secret)
        db.commit()
        return case.reference

    return with_secret


def status_line(settings, language: str, reference: str) -> str:
    """Return the first line of the status answer as the bot says it in language."""
    catalog = translations(language)
    label = catalog.ugettext(case_content(settings).workflow.statuses["new"].label)
    template = catalog.ugettext(response_text(settings, "utter_case_status")).splitlines()[0]
    return template.format(case_reference=reference, case_status=label)


def asked(settings, language: str, response: str) -> str:
    return translations(language).ugettext(response_text(settings, response)).splitlines()[0]


# --- the rule, where it lives ------------------------------------------------------------------------


@pytest.mark.parametrize("text", LANGUAGE_LESS)
def test_codes_numbers_addresses_and_dates_carry_no_language(text):
    assert not carries_language(text), language_words(text)


@pytest.mark.parametrize(
    "text",
    [
        "Хочу перевірити статус",
        "status sprawy",
        "the status of my case",
        "Dzień dobry",
        "KRK-2026-000123 what is its status",
        "kurs B2 od 15 maja",
    ],
)
def test_words_carry_language(text):
    assert carries_language(text)


@pytest.mark.parametrize("prior", LANGUAGES)
@pytest.mark.parametrize("text", LANGUAGE_LESS + SECRETS[:4])
def test_detection_keeps_the_conversations_language_for_text_without_language(prior, text):
    assert detect_language(text, enabled=LANGUAGES, prior=prior) == (prior, 0.0)


@pytest.mark.parametrize("prior", LANGUAGES)
@pytest.mark.parametrize("text", LANGUAGE_LESS + SECRETS[:4])
def test_the_nlu_keeps_the_conversations_language_for_text_without_language(settings, prior, text):
    parsed = flows.dialogue_engine(settings).parse(text, Tracker(language=prior))
    assert parsed.language == prior


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("qjzyjwunk", True),
        ("KRK-2026-000123 QCVJ-VXCR", True),
        ("anna@example.com", True),
        ("Krowodrza", True),
        ("Nowa Huta", False),  # two words: detection decides (the NLU knows district names)
        ("I do not remember it", False),
        ("Не пам'ятаю номер", False),
    ],
)
def test_a_value_is_one_word_or_codes(text, value):
    assert is_value(text) is value


def test_a_sentence_still_switches_the_language(settings):
    engine = flows.dialogue_engine(settings)
    assert engine.parse("Хочу перевірити статус звернення", Tracker(language="en")).language == "uk"
    assert (
        engine.parse("I would like to check the status of my case", Tracker(language="uk")).language == "en"
    )


# --- whole conversations: the REST channel ------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_rest_status_check_answers_in_the_conversations_language(client, settings, status_case, language):
    for number, secret in enumerate(SECRETS):
        reference = status_case(secret)
        sender = f"keep-{language}-{number}"
        first = rest(client, sender, ASK_STATUS[language])
        assert asked(settings, language, "utter_ask_case_status_form_case_reference") in first[0]["text"], (
            secret
        )
        second = rest(client, sender, reference)
        assert asked(settings, language, "utter_ask_case_status_form_case_secret") in second[0]["text"], (
            secret
        )
        third = rest(client, sender, secret)
        assert status_line(settings, language, reference) in third[0]["text"], secret


@pytest.mark.parametrize("language", LANGUAGES)
def test_rest_reference_and_secret_in_one_message_keep_the_language(
    client, settings, db, status_case, language
):
    for number, secret in enumerate(["Kp_3x-Yz9Q", "7K3M QXDW KRTM H5NP", "qjzyjwunk", "KSPS-XRJA"]):
        reference = status_case(secret)
        sender = f"keep-one-{language}-{number}"
        rest(client, sender, ASK_STATUS[language])
        answer = rest(client, sender, f"{reference} {secret}")
        # The reference is taken, the secret is asked for: in the conversation's language.
        assert asked(settings, language, "utter_ask_case_status_form_case_secret") in answer[0]["text"], (
            secret
        )
        conversation = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
        db.refresh(conversation)
        assert conversation.language == language, secret
        status = rest(client, sender, secret)
        assert status_line(settings, language, reference) in status[0]["text"], secret


@pytest.mark.parametrize("language", LANGUAGES)
def test_rest_contact_typed_into_the_case_form_keeps_the_language(client, settings, language):
    for number, (preference, contact) in enumerate(
        [("email", "olena.petrenko@example.com"), ("phone", "+380 67 123 45 67"), ("phone", "600123456")]
    ):
        sender = f"contact-{language}-{number}"
        rest(client, sender, f'/change_language{{"language": "{language}"}}')
        rest(client, sender, '/fill_form{"case_topic": "housing"}')
        rest(
            client,
            sender,
            {
                "pl": "Właściciel mieszkania nie chce oddać mi kaucji po wyprowadzce.",
                "uk": "Власник квартири не повертає мені заставу після виїзду.",
                "ru": "Хозяин квартиры не возвращает мне залог после выезда.",
                "en": "My landlord keeps my deposit after I moved out in October.",
                "be": "Уладальнік кватэры не вяртае мне заклад пасля выезду.",
                "es": "El casero no me devuelve la fianza después de mudarme en octubre.",
                "hi": "मकान मालिक अक्टूबर में घर छोड़ने के बाद मेरी जमा राशि वापस नहीं कर रहा है।",
                "ka": "მეპატრონე ოქტომბერში გადასვლის შემდეგ დეპოზიტს არ მიბრუნებს.",
                "tr": "Ev sahibi ekimde taşındıktan sonra depozitomu geri vermiyor.",
                "vi": "Chủ nhà không trả lại tiền đặt cọc sau khi tôi chuyển đi vào tháng Mười.",
                "ar": "صاحب الشقة لا يعيد لي التأمين بعد أن انتقلت في أكتوبر.",
            }[language],
        )
        rest(client, sender, f'/inform{{"contact_preference": "{preference}"}}')
        answer = rest(client, sender, contact)
        assert asked(settings, language, "utter_ask_case_form_district") in answer[0]["text"], contact


def test_a_sentence_typed_while_a_form_asks_for_a_value_still_switches(client, settings, db):
    sender = "switch-in-form"
    rest(client, sender, ASK_STATUS["uk"])
    rest(client, sender, "Sorry, I have lost the paper with my case reference number")
    conversation = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
    assert conversation.language == "en"


# --- whole conversations: the web chat -----------------------------------------------------------------


def _last_bot_message(html: str) -> tuple[str, str]:
    """Return (lang, text) of the last bot message on a chat page."""
    items = re.findall(r'<li class="msg msg-bot"(?: lang="(\w+)" dir="\w+")?>(.*?)</li>', html, re.S)
    assert items, "no bot message on the page"
    lang, body = items[-1]
    return lang, re.sub(r"<[^>]+>", "", body)


@pytest.mark.parametrize("language", LANGUAGES)
def test_web_chat_status_check_answers_in_the_pages_language(client, settings, status_case, language):
    for together, secret in ((False, "Xk9fPq2Lm"), (True, "Kp_3x-Yz9Q"), (False, "QCVJ-VXCR")):
        reference = status_case(secret)
        client.cookies.clear()
        page = client.get(f"/{language}/chat")
        token = csrf_from(page.text)
        messages = [ASK_STATUS[language], f"{reference} {secret}" if together else reference, secret]
        for message in messages:
            client.post(f"/{language}/chat", data={"csrf_token": token, "message": message})
        lang, text = _last_bot_message(client.get(f"/{language}/chat").text)
        assert lang == language, (together, text)
        assert status_line(settings, language, reference) in " ".join(text.split()), (together, text)
