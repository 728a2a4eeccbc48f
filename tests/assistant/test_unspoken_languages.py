"""A language Witaj does not speak (issue 14, point 6): the assistant says so in English and in the
city's language, offers the languages it speaks in their own names and a person - never a bare
Polish "I did not understand". Through both HTTP channels, with the real NLU and lingua."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from app.assistant import flows
from app.assistant.models import ConversationMessage
from app.i18n import translations
from app.languages import KNOWN_LOCALES, foreign_language, native_name
from tests.conftest import csrf_from

UNSPOKEN = {
    "de": "Guten Tag, ich suche Arbeit in Krakau",
    "fr": "Bonjour, je cherche du travail à Cracovie, pouvez-vous m'aider ?",
    "pt": "Olá, preciso de ajuda para encontrar trabalho em Cracóvia",
    # Persian and Urdu are written in Arabic letters: they must not be taken for Arabic.
    "fa": "سلام، من در کراکوف دنبال کار می‌گردم",
    "ur": "السلام علیکم، مجھے کراکوف میں نوکری چاہیے",
    "zh": "你好，我在克拉科夫找工作，请帮帮我",
}
#: Languages of the plan whose content is not complete yet: until they are, they are not spoken either.
PLANNED = {
    "ka": "გამარჯობა, კრაკოვში სამსახურს ვეძებ, დამეხმარებით?",
    "tr": "Merhaba, Krakow'da iş arıyorum, bana yardım edebilir misiniz?",
    "vi": "Xin chào, tôi đang tìm việc làm ở Krakow, bạn có thể giúp tôi không?",
    "es": "Hola, busco trabajo en Cracovia, ¿me pueden ayudar?",
    "hi": "नमस्ते, मुझे क्राकोव में नौकरी चाहिए, क्या आप मदद करेंगे?",
    "ar": "مرحبا، أبحث عن عمل في كراكوف، هل يمكنكم مساعدتي؟",
}
UNSPOKEN.update({code: text for code, text in PLANNED.items() if code not in KNOWN_LOCALES})


def text_of(settings, response: str, language: str, **values) -> str:
    english = flows.dialogue_engine(settings).data.domain.responses[response][0].text
    return " ".join(translations(language).ugettext(english).format(**values).split())


def ask(client, channel: str, language: str, message: str) -> tuple[str, list[str]]:
    """Return the answer's text and the titles of its quick replies."""
    if channel == "rest":
        body = client.post("/webhooks/rest/webhook", json={"sender": f"unspoken-{language}", "message": message}).json()
        return " ".join(" ".join(m["text"] for m in body).split()), [b["title"] for m in body for b in m.get("buttons", [])]
    token = csrf_from(client.get("/en/chat").text)
    page = client.post("/en/chat", data={"csrf_token": token, "message": message}, headers={"HX-Request": "true"}).text
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split()), []


@pytest.mark.parametrize("channel", ["rest", "web"])
@pytest.mark.parametrize("language", sorted(UNSPOKEN))
def test_a_language_witaj_does_not_speak_gets_an_answer_to_act_on(client, world, settings, channel, language):
    answer, replies = ask(client, channel, language, UNSPOKEN[language])
    name = native_name(language)
    for spoken in ("en", settings.default_locale):
        assert text_of(settings, "utter_language_not_spoken", spoken, language_name=name) in answer, answer
    assert text_of(settings, "utter_ask_rephrase", settings.default_locale) not in answer
    offered = replies or answer
    for code in settings.locales:
        assert native_name(code) in offered
    assert translations(settings.default_locale).ugettext("Talk to a person") in offered


def test_the_message_keeps_its_language_for_the_translation(client, world, db, settings):
    ask(client, "rest", "de", UNSPOKEN["de"])
    stored = db.scalars(select(ConversationMessage).where(ConversationMessage.author == "user")).all()
    assert [m.language for m in stored] == ["de"]


@pytest.mark.parametrize(
    "message",
    ["szukam pracy w Krakowie", "шукаю роботу в Кракові", "ищу работу", "pryvit, de znajty robotu",
     "gde mozhno vyuchit polskij besplatno", "hello", "ok", "Oksana Petrenko", "KRK-2026-000123", "mam status UKR"],
)
def test_the_languages_it_speaks_and_names_are_never_taken_for_foreign(settings, message):
    assert foreign_language(message, enabled=list(settings.locales)) is None


def test_a_language_the_city_has_not_enabled_is_told_apart():
    assert foreign_language("шукаю роботу в Кракові, допоможіть", enabled=["pl", "en"]) == "uk"
    assert foreign_language("шукаю роботу в Кракові, допоможіть", enabled=["pl", "en", "uk"]) is None


@pytest.mark.parametrize("message", ["asdkjh qweoiu zxcmn", "qwpoeiru zxmcvnb", "sdfg hjkl qwrt"])
def test_keys_struck_at_random_are_no_language(settings, message):
    assert foreign_language(message, enabled=list(settings.locales)) is None


TRANSLITERATED = {
    "uk": "pryvit, de znajty robotu v Krakovi?",
    "ru": "gde mozhno vyuchit polskij besplatno",
    "be": "pryvitannie, dze znajsci pracu",
    "hi": "namaste, mujhe krakow me naukri chahiye, kaise milegi?",
    "ar": "salam, ana badawer 3ala shoghl fi krakow, mumkin mosa3ada?",
    "vi": "xin chao, toi muon tim viec lam o krakow",
}


@pytest.mark.parametrize("language", sorted(set(TRANSLITERATED) & set(KNOWN_LOCALES)))
def test_latin_letters_of_other_scripts_are_answered_in_that_language(client, world, db, language):
    """The REST channel has no page language: the conversation starts in Polish, and a message in
    Latin-script Ukrainian, Russian, Belarusian, romanised Hindi, Arabizi or Vietnamese without its
    marks is answered in that language."""
    from app.assistant.models import Conversation

    sender = f"translit-{language}"
    client.post("/webhooks/rest/webhook", json={"sender": sender, "message": TRANSLITERATED[language]})
    conversation = db.scalar(select(Conversation).where(Conversation.sender_id == sender))
    assert conversation.language == language


@pytest.mark.parametrize(
    ("language", "message"),
    [("en", "social assistance in Krakow"), ("en", "legal aid for refugees"), ("es", "busco trabajo en Cracovia")],
)
def test_a_message_of_an_enabled_languages_words_is_never_foreign(settings, language, message):
    """lingua reads "social assistance in Krakow" as French; its words are words of the English
    examples, so it is English."""
    from app.assistant.runtime import Tracker

    parsed = flows.dialogue_engine(settings).parse(message, Tracker(language=language))
    assert parsed.foreign is None and parsed.intent != "nlu_fallback", parsed


def test_a_close_language_understood_by_the_classifier_is_still_told_apart(settings):
    """Portuguese reads like Spanish to the classifier (it finds a topic), but the city does not speak it."""
    from app.assistant.runtime import Tracker

    parsed = flows.dialogue_engine(settings).parse(UNSPOKEN["pt"], Tracker(language="es"))
    assert parsed.foreign == "pt" and parsed.intent == "nlu_fallback"
