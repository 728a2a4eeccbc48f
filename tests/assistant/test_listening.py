"""Conversations that listen (issue 13), in every language, through both HTTP channels in turn (Rasa's
REST channel and the web chat), with the real dialogue files, NLU model and database: a greeting with
a question, two questions at once, follow-ups that keep the topic ("and on Saturday?", "and for
adults?"), forms that take what the chat knows and never ask a third time, a question on another
topic inside a form, and never silence (no office yet, an action that fails)."""

from __future__ import annotations

import html
import itertools
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from sqlalchemy import select

from app.assistant import flows, runtime
from app.assistant.conversation_tests import asked_a_third_time, run_tests
from app.assistant.knowledge import load_knowledge
from app.auth.models import Organisation
from app.cases.models import CaseFile
from app.i18n import translations
from app.languages import KNOWN_LOCALES
from tests.conftest import csrf_from

LANGUAGES = KNOWN_LOCALES
CHANNELS = ("rest", "web")
_TURN = itertools.count()


def through_channels() -> list[tuple[str, str]]:
    """Return every language once, each through one of the channels in turn; the next test starts
    with the other channel, so each language goes through both in this file (the channels carry
    text the same way in every language: eleven languages times two channels would double the time
    and test nothing more)."""
    turn = next(_TURN)
    return [(language, CHANNELS[(number + turn) % 2]) for number, language in enumerate(LANGUAGES)]
#: A Wednesday noon in Kraków: "Saturday" is 5 December, "the weekend" 5-6 December.
WEDNESDAY = datetime(2026, 12, 2, 12, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
SATURDAY = date(2026, 12, 5)


class Chat:
    """One newcomer talking through one channel; say() returns the bot's answer as plain text."""

    def __init__(self, client, channel: str, language: str, sender: str) -> None:
        self.client, self.channel, self.language, self.sender = client, channel, language, sender
        if channel == "web":
            self.token = csrf_from(client.get(f"/{language}/chat").text)

    def say(self, message: str) -> str:
        if self.channel == "rest":
            response = self.client.post("/webhooks/rest/webhook", json={"sender": self.sender, "message": message})
            assert response.status_code == 200, response.text
            return "\n".join(item.get("text", "") for item in response.json())
        response = self.client.post(
            f"/{self.language}/chat",
            data={"csrf_token": self.token, "message": message},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200, response.text
        # The new messages (the newcomer's and the bot's, with their quick replies) as text.
        return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


def words(text: str) -> str:
    return " ".join(text.split())


def said(settings, response: str, language: str, line: int = 0) -> str:
    """Return a line of a response as the bot says it in language (spaces normalised)."""
    english = flows.dialogue_engine(settings).data.domain.responses[response][0].text
    return words(translations(language).ugettext(english).splitlines()[line])


def says(answer: str, settings, response: str, language: str) -> bool:
    return said(settings, response, language) in words(answer)


@pytest.fixture
def chat(client, world):
    """Return a factory of chats on a site with its office, partners and staff."""
    made = []

    def start(channel: str, language: str) -> Chat:
        made.append(Chat(client, channel, language, f"listen-{channel}-{language}-{len(made)}"))
        return made[-1]

    return start


@pytest.fixture
def wednesday(time_machine):
    time_machine.move_to(WEDNESDAY, tick=False)


# --- more than one thing in a message ---------------------------------------------------------------

GREETING_AND_QUESTION = {
    "pl": ("Dzień dobry, szukam pracy w Krakowie", "utter_job_search"),
    "uk": ("Привіт! Де можна безкоштовно вивчати польську мову?", "utter_polish_course"),
    "ru": ("Здравствуйте, нужна бесплатная юридическая консультация", "utter_legal_help"),
    "en": ("Hi, how do I get a library card?", "utter_library_card"),
    "be": ("Добры дзень, дзе атрымаць чытацкі білет у бібліятэцы?", "utter_library_card"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_a_greeting_with_a_question_answers_the_question(chat, settings, channel, language):
    message, response = GREETING_AND_QUESTION[language]
    answer = chat(channel, language).say(message)
    assert says(answer, settings, response, language), answer
    assert not says(answer, settings, "utter_greet", language)


TWO_QUESTIONS = {
    "pl": ("Jak zapisać się na kurs polskiego? I gdzie szukać pracy?", "utter_polish_course", "utter_job_search"),
    "uk": ("Де вивчити польську мову? І як знайти роботу?", "utter_polish_course", "utter_job_search"),
    "ru": ("Как записаться на курсы польского? И где найти работу?", "utter_polish_course", "utter_job_search"),
    "en": ("How do I get a library card? And where can I learn Polish?", "utter_library_card", "utter_polish_course"),
    "be": ("Дзе вывучыць польскую мову? І як знайсці працу?", "utter_polish_course", "utter_job_search"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_two_questions_in_one_message_get_both_answers_in_order(chat, settings, channel, language):
    message, first, second = TWO_QUESTIONS[language]
    answer = words(chat(channel, language).say(message))
    one, two = said(settings, first, language), said(settings, second, language)
    assert one in answer and two in answer, answer
    assert answer.index(one) < answer.index(two)


# --- follow-ups -------------------------------------------------------------------------------------

LIBRARY_THEN_SATURDAY = {
    "pl": ("szukam biblioteki w Nowej Hucie", "a w sobotę?"),
    "uk": ("де бібліотека в Новій Гуті?", "а в суботу?"),
    "ru": ("где библиотека в Новой Хуте?", "а в субботу?"),
    "en": ("is there a library in Nowa Huta?", "and on Saturday?"),
    "be": ("дзе бібліятэка ў Новай Хуце?", "а ў суботу?"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_and_on_saturday_gives_the_branch_hours_on_saturday_and_the_week(chat, settings, wednesday, channel, language):
    first, follow_up = LIBRARY_THEN_SATURDAY[language]
    conversation = chat(channel, language)
    saturday = format_date(SATURDAY, "EEEE d MMMM", locale=language)
    before = words(conversation.say(first))
    assert said(settings, "utter_library_branches_found", language).split("{")[0].strip() in before or "Nowa Huta" in before
    assert saturday not in before
    after = words(conversation.say(follow_up))
    assert saturday in after, after
    branch = next(b for b in load_knowledge(settings).branches if b.district == "Nowa Huta")
    assert branch.name in after
    # The week is there too, with its evenings and weekend.
    evenings = translations(language).ugettext("Evenings: {days}").split("{")[0].strip()
    assert evenings in after


EVENTS_FOR_CHILDREN_THEN_ADULTS = {
    "pl": ("co ciekawego w weekend w Krakowie dla dzieci?", "a dla dorosłych?"),
    "uk": ("що цікавого буде у вихідні в Кракові для дітей?", "а для дорослих?"),
    "ru": ("что интересного на выходных в Кракове для детей?", "а для взрослых?"),
    "en": ("what's on at the weekend in Kraków for kids?", "and for adults?"),
    "be": ("што цікавага ў выхадныя ў Кракаве для дзяцей?", "а для дарослых?"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_events_at_the_weekend_for_children_then_for_adults(chat, settings, wednesday, channel, language):
    first, follow_up = EVENTS_FOR_CHILDREN_THEN_ADULTS[language]
    conversation = chat(channel, language)
    catalog = translations(language)
    events = load_knowledge(settings).events
    zone = settings.zone
    weekend = [e for e in events if e.occurrences(SATURDAY, SATURDAY + timedelta(days=1), zone)]
    for_children = {catalog.ugettext(e.title) for e in weekend if e.audience in ("children", "families")}
    adults_only = {catalog.ugettext(e.title) for e in events if e.audience == "adults"}
    on_weekdays = {catalog.ugettext(e.title) for e in events if e not in weekend} - {catalog.ugettext(e.title) for e in weekend}
    assert for_children and adults_only
    answer = conversation.say(first)
    assert any(title in answer for title in for_children), answer
    assert not any(title in answer for title in adults_only | on_weekdays), answer
    saturday = format_date(SATURDAY, "EEEE d MMMM", locale=language)
    assert saturday in words(answer)
    answer = conversation.say(follow_up)
    assert not any(title in answer for title in for_children - {catalog.ugettext(e.title) for e in weekend if e.audience == "all"}), answer
    assert not any(title in answer for title in on_weekdays), answer


# --- forms that listen ------------------------------------------------------------------------------

HOUSING = {
    "pl": ("potrzebuję pomocy z mieszkaniem, wyrzucają nas z mieszkania", "tak, chcę złożyć zgłoszenie",
           "właściciel każe nam się wyprowadzić do końca miesiąca", "Podgórze", "tak"),
    "uk": ("мені потрібна допомога з житлом, нас виселяють", "так, хочу подати заявку",
           "власник квартири вимагає, щоб ми виїхали до кінця місяця", "Подгуже", "так"),
    "ru": ("нужна помощь с жильём, нас выселяют", "да, хочу подать заявку",
           "хозяин квартиры требует съехать до конца месяца", "Подгуже", "да"),
    "en": ("I need help with housing, we are being evicted", "yes, I want to open a case",
           "the landlord says we must leave the flat by the end of the month", "Podgórze", "yes"),
    "be": ("мне патрэбна дапамога з жыллём, нас высяляюць", "так, хачу падаць заяву",
           "гаспадар кватэры патрабуе з'ехаць да канца месяца", "Падгуж'е", "так"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_the_case_form_takes_the_topic_and_contact_it_already_has(chat, db, settings, channel, language):
    topic, yes_open, description, district, consent = HOUSING[language]
    conversation = chat(channel, language)
    conversation.say(topic)
    answer = conversation.say(yes_open)
    assert not says(answer, settings, "utter_ask_case_form_case_topic", language), "asked the topic again"
    assert says(answer, settings, "utter_ask_case_form_case_description", language), answer
    answer = conversation.say(description)
    assert says(answer, settings, "utter_ask_case_form_contact_preference", language), answer
    # An address typed instead of a choice answers both questions.
    answer = conversation.say("oksana.k@example.org")
    assert not says(answer, settings, "utter_ask_case_form_contact_preference", language)
    assert says(answer, settings, "utter_ask_case_form_district", language), answer
    answer = conversation.say(district)
    assert says(answer, settings, "utter_ask_case_form_consent", language), answer
    answer = conversation.say(consent)
    assert says(answer, settings, "utter_case_created", language), answer
    case = db.scalars(select(CaseFile).order_by(CaseFile.id.desc())).first()
    assert case.category == "housing" and case.client.district == "Podgórze"
    assert case.client.contact_encrypted and "oksana" not in case.client.contact_encrypted


TOPIC_TYPED = {
    "pl": ("chcę złożyć zgłoszenie", "mieszkanie"),
    "uk": ("хочу подати заявку", "житло"),
    "ru": ("хочу оставить заявку", "жильё"),
    "en": ("I want to open a case", "housing"),
    "be": ("хачу падаць заяву", "жыллё"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_a_topic_typed_instead_of_chosen_is_understood(chat, settings, channel, language):
    start, typed = TOPIC_TYPED[language]
    conversation = chat(channel, language)
    answer = conversation.say(start)
    assert says(answer, settings, "utter_ask_case_form_case_topic", language), answer
    answer = conversation.say(typed)
    assert says(answer, settings, "utter_ask_case_form_case_description", language), answer


NOT_A_TOPIC = {
    "pl": ("Oksana Petrenko", "oksana@example.org"),
    "uk": ("Оксана Петренко", "oksana@example.org"),
    "ru": ("Оксана Петренко", "oksana@example.org"),
    "en": ("Oksana Petrenko", "oksana@example.org"),
    "be": ("Аксана Пятрэнка", "oksana@example.org"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_a_question_is_asked_at_most_twice_then_a_person_is_offered(chat, settings, channel, language):
    start, _typed = TOPIC_TYPED[language]
    conversation = chat(channel, language)
    asked = said(settings, "utter_ask_case_form_case_topic", language)
    assert asked in words(conversation.say(start))
    first, second = NOT_A_TOPIC[language]
    assert asked in words(conversation.say(first))  # the second time
    answer = words(conversation.say(second))
    assert asked not in answer, "asked a third time"
    assert said(settings, "utter_form_stuck", language) in answer
    assert translations(language).ugettext("Talk to a person") in answer
    # The form has ended: "thank you" is answered as such, not with the question.
    assert asked not in words(conversation.say(THANKS[language]))


ASIDE = {
    "pl": "gdzie jest urząd pracy?",
    "uk": "а де знаходиться уряд праці?",
    "ru": "а где находится бюро труда?",
    "en": "where is the labour office?",
    "be": "а дзе знаходзіцца бюро працы?",
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_a_question_on_another_topic_inside_a_form_is_answered_and_the_form_goes_on(chat, settings, channel, language):
    topic, yes_open, description, _district, _consent = HOUSING[language]
    conversation = chat(channel, language)
    conversation.say(topic)
    conversation.say(yes_open)
    assert says(conversation.say(description), settings, "utter_ask_case_form_contact_preference", language)
    answer = words(conversation.say(ASIDE[language]))
    office = said(settings, "utter_gup_office", language)
    resume = said(settings, "utter_form_resume", language)
    ask = said(settings, "utter_ask_case_form_contact_preference", language)
    assert office in answer and resume in answer and ask in answer, answer
    assert answer.index(office) < answer.index(resume) < answer.index(ask)


# --- never silence ----------------------------------------------------------------------------------

PERSON = {
    "pl": "chcę porozmawiać z człowiekiem",
    "uk": "хочу поговорити з людиною",
    "ru": "хочу поговорить с человеком",
    "en": "I want to talk to a person",
    "be": "хачу пагаварыць з чалавекам",
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_a_fresh_install_without_staff_still_hands_over(client, db, settings, channel, language):
    assert db.scalar(select(Organisation).where(Organisation.slug == settings.office_slug)) is None
    answer = Chat(client, channel, language, f"fresh-{channel}-{language}").say(PERSON[language])
    assert says(answer, settings, "utter_handoff_connecting", language), answer
    office = db.scalar(select(Organisation).where(Organisation.slug == settings.office_slug))
    assert office is not None
    case = db.scalars(select(CaseFile).order_by(CaseFile.id.desc())).first()
    assert case is not None and case.owner_org_id == office.id


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_an_action_that_fails_answers_with_an_apology_and_a_way_forward(chat, db, settings, monkeypatch, channel, language):
    engine = flows.dialogue_engine(settings)

    def broken(ctx):
        ctx.utter("utter_greet")  # said before it failed: taken back with the rest
        raise RuntimeError("the knowledge file is unreadable")

    monkeypatch.setitem(engine.actions, "action_find_library_branch", broken)
    message = LIBRARY_THEN_SATURDAY[language][0]
    answer = words(chat(channel, language).say(message))
    assert said(settings, "utter_action_failed", language) in answer, answer
    assert "112" in answer
    assert said(settings, "utter_greet", language) not in answer


def test_an_apology_is_in_every_language(settings):
    for language in LANGUAGES:
        text = said(settings, "utter_action_failed", language)
        assert text and (language == "en" or text != said(settings, "utter_action_failed", "en"))


# --- the conversation tests guard against loops --------------------------------------------------


def test_a_question_asked_three_times_in_a_row_is_found():
    assert asked_a_third_time(["utter_ask_x", "utter_greet", "utter_ask_x", "utter_ask_x"]) == "utter_ask_x"
    assert asked_a_third_time(["utter_ask_x", "utter_ask_y", "utter_ask_x", "utter_ask_x"]) is None
    assert asked_a_third_time(["utter_greet", "utter_greet", "utter_greet"]) is None


def test_witaj_dialogues_test_fails_a_dialogue_that_asks_a_third_time(settings, monkeypatch):
    engine = flows.dialogue_engine(settings)
    assert all(passed for _name, passed, _why in run_tests(engine.data, settings, engine))
    monkeypatch.setattr(runtime, "MAX_ASKS", 5)  # an engine that would ask again and again
    results = {name: (passed, why) for name, passed, why in run_tests(engine.data, settings, engine)}
    passed, why = results["en - a name where a topic is asked, twice, then no third question but a person"]
    assert not passed and "utter_ask_case_form_case_topic asked a third time" in why


# --- "where is it?", "how much is it?" ------------------------------------------------------------

WHERE_AFTER_LABOUR = {
    "pl": ("jak się zarejestrować jako bezrobotny?", "a gdzie to jest?"),
    "uk": ("як зареєструватися як безробітний?", "а де це?"),
    "ru": ("как зарегистрироваться как безработный?", "а где это?"),
    "en": ("how do I register as unemployed?", "and where is it?"),
    "be": ("як зарэгістравацца як беспрацоўны?", "а дзе гэта?"),
}
COST_AFTER_HOUSING = {
    "pl": ("szukam pomocy z mieszkaniem, wyrzucają nas", "ile to kosztuje?"),
    "uk": ("потрібна допомога з житлом, нас виселяють", "скільки це коштує?"),
    "ru": ("нужна помощь с жильём, нас выселяют", "сколько это стоит?"),
    "en": ("I need help with housing, we are being evicted", "how much does it cost?"),
    "be": ("патрэбна дапамога з жыллём, нас высяляюць", "колькі гэта каштуе?"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_where_is_it_and_how_much_answer_for_the_topic_before(chat, settings, channel, language):
    topic, where = WHERE_AFTER_LABOUR[language]
    conversation = chat(channel, language)
    conversation.say(topic)
    answer = conversation.say(where)
    assert says(answer, settings, "utter_gup_office", language), answer
    assert not says(answer, settings, "utter_labour_register", language)
    topic, cost = COST_AFTER_HOUSING[language]
    conversation.say(topic)
    answer = conversation.say(cost)
    assert says(answer, settings, "utter_partners_free", language), answer


@pytest.mark.parametrize("language", LANGUAGES)
def test_where_is_it_without_a_topic_asks_which_place(chat, settings, language):
    answer = chat("rest", language).say(WHERE_AFTER_LABOUR[language][1])
    assert says(answer, settings, "utter_follow_up_unknown", language), answer


@pytest.mark.parametrize(
    ("language", "question"),
    [("en", "is it safe?"), ("en", "do I have to validate it?"), ("pl", "czy to bezpieczne?"), ("uk", "це безпечно?")],
)
def test_a_short_question_without_where_when_or_cost_words_is_no_such_follow_up(chat, settings, language, question):
    conversation = chat("rest", language)
    conversation.say(WHERE_AFTER_LABOUR[language][0])
    answer = conversation.say(question)
    assert not says(answer, settings, "utter_gup_office", language), answer
    assert not says(answer, settings, "utter_free_of_charge", language), answer


# --- the topics newcomers bring ---------------------------------------------------------------------

LOST_JOB_THEN_MONEY = {
    "pl": ("Dzień dobry, straciłam pracę w zeszłym tygodniu, co mam zrobić?", "a dostanę jakieś pieniądze?"),
    "uk": ("Привіт, я втратила роботу минулого тижня, що робити?", "а я отримаю якісь гроші?"),
    "ru": ("Здравствуйте, я потерял работу на прошлой неделе, что делать?", "а деньги какие-то получу?"),
    "en": ("Hi, I lost my job last week, what should I do?", "do I get any money?"),
    "be": ("Добры дзень, я страціла працу на мінулым тыдні, што рабіць?", "а грошы нейкія атрымаю?"),
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_lost_my_job_then_do_i_get_any_money(chat, settings, channel, language):
    first, money = LOST_JOB_THEN_MONEY[language]
    conversation = chat(channel, language)
    answer = conversation.say(first)
    assert says(answer, settings, "utter_labour_register", language), answer
    assert not says(answer, settings, "utter_greet", language)
    answer = conversation.say(money)
    assert says(answer, settings, "utter_unemployment_benefit", language), answer


NEW_TOPICS = (
    "unemployment_benefit", "health_insurance", "employee_rights", "diploma_recognition", "pesel",
    "residence_card", "temporary_protection", "bank_account", "taxes", "find_doctor", "emergency_numbers",
    "social_assistance", "schools", "volunteering", "public_transport", "translators",
)


def test_every_topic_has_its_answer_a_rule_and_a_translation(settings):
    engine = flows.dialogue_engine(settings)
    assert len(engine.data.domain.intents) >= 40
    for topic in NEW_TOPICS:
        assert engine.predict(runtime.Tracker(language="en"), topic)[0] == f"utter_{topic}"
        english = engine.data.domain.responses[f"utter_{topic}"][0].text
        for language in ("pl", "uk", "ru", "be"):
            assert translations(language).ugettext(english) != english, (topic, language)


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_every_topic_is_answered_in_every_language(chat, settings, channel, language):
    """A newcomer's question on each topic (the first written example of the topic in the language)
    gets the topic's answer in that language, through the channel."""
    data = flows.dialogue_engine(settings).data
    for topic in NEW_TOPICS:
        example = next(e.text for e in data.examples[language] if e.intent == topic)
        conversation = chat(channel, language)
        conversation.say(HELLO[language])  # the conversation has its language, as after any first message
        answer = conversation.say(example)
        assert says(answer, settings, f"utter_{topic}", language), (topic, example, answer)


@pytest.mark.parametrize("channel", CHANNELS)
def test_events_in_a_language(chat, settings, wednesday, channel):
    catalog = translations("uk")
    events = load_knowledge(settings).events
    week = [e for e in events if e.occurrences(WEDNESDAY.date(), WEDNESDAY.date() + timedelta(days=6), settings.zone)]
    in_ukrainian = {catalog.ugettext(e.title) for e in week if "uk" in e.languages}
    never_ukrainian = {catalog.ugettext(e.title) for e in week if e.languages and "uk" not in e.languages} - in_ukrainian
    assert in_ukrainian and never_ukrainian
    answer = chat(channel, "uk").say("які заходи цього тижня українською мовою?")
    assert any(title in answer for title in in_ukrainian), answer
    assert not any(title in answer for title in never_ukrainian), answer


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("mieszkam w Nowej Hucie", "Nowa Huta"),
        ("живу в Новій Гуті", "Nowa Huta"),
        ("живу в Новой Хуте", "Nowa Huta"),
        ("жыву ў Новай Хуце", "Nowa Huta"),
        ("I live in Nowa Huta", "Nowa Huta"),
        ("biblioteka na Podgórzu", "Podgórze"),
        ("jestem z Krowodrzy", "Krowodrza"),
    ],
)
def test_districts_are_found_as_people_inflect_them(settings, text, district):
    parsed = flows.dialogue_engine(settings).parse(text, runtime.Tracker(language="pl"))
    assert [e["value"] for e in parsed.entities if e["entity"] == "district"] == [district], parsed.entities


EMAIL_FIRST = {
    "pl": "mój email to oksana.k@example.org",
    "uk": "моя пошта oksana.k@example.org",
    "ru": "моя почта oksana.k@example.org",
    "en": "my email is oksana.k@example.org",
    "be": "мая пошта oksana.k@example.org",
}


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_a_contact_given_earlier_in_the_chat_is_not_asked_again(chat, db, settings, channel, language):
    topic, yes_open, description, district, consent = HOUSING[language]
    conversation = chat(channel, language)
    conversation.say(topic)
    conversation.say(EMAIL_FIRST[language])
    conversation.say(yes_open)
    answer = conversation.say(description)
    assert not says(answer, settings, "utter_ask_case_form_contact_preference", language), answer
    assert says(answer, settings, "utter_ask_case_form_district", language), answer
    conversation.say(district)
    assert says(conversation.say(consent), settings, "utter_case_created", language)
    case = db.scalars(select(CaseFile).order_by(CaseFile.id.desc())).first()
    assert case.client.contact_encrypted and "oksana" not in case.client.contact_encrypted
    assert case.category == "housing"


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_an_address_on_its_own_is_noted_not_misunderstood(chat, settings, channel, language):
    conversation = chat(channel, language)
    conversation.say(HOUSING[language][0])
    answer = conversation.say(EMAIL_FIRST[language])
    assert says(answer, settings, "utter_contact_noted", language), answer
    assert not says(answer, settings, "utter_ask_rephrase", language)


@pytest.mark.parametrize(("language", "channel"), through_channels())
def test_every_choice_of_a_question_is_offered_in_the_channel(client, world, settings, channel, language):
    """The topic question's whole list (housing is the ninth of eleven) reaches the newcomer: as Rasa
    buttons on the REST channel, as quick replies in the web chat."""
    engine = flows.dialogue_engine(settings)
    choices = [translations(language).ugettext(b.title) for b in engine.data.domain.responses["utter_ask_case_form_case_topic"][0].buttons]
    assert len(choices) == 11
    start = TOPIC_TYPED[language][0]
    if channel == "rest":
        response = client.post("/webhooks/rest/webhook", json={"sender": f"choices-{language}", "message": start})
        offered = [b["title"] for item in response.json() for b in item.get("buttons", [])]
        assert offered == choices
    else:
        answer = Chat(client, "web", language, "").say(start)
        assert all(choice in answer for choice in choices), answer


# --- the languages added after the first five ------------------------------------------------------

THANKS = {"pl": "dziękuję", "uk": "дякую", "ru": "спасибо", "en": "thanks", "be": "дзякуй", "es": "gracias",
          "hi": "धन्यवाद", "ka": "მადლობა", "tr": "teşekkürler", "vi": "cảm ơn", "ar": "شكرا"}
HELLO = {"pl": "dzień dobry", "uk": "добрий день", "ru": "здравствуйте", "en": "hello, good morning", "be": "добры дзень",
         "es": "hola, buenos días", "hi": "नमस्ते", "ka": "გამარჯობა", "tr": "merhaba", "vi": "xin chào",
         "ar": "مرحبا، صباح الخير"}
GREETING_AND_QUESTION.update({
    "es": ("Hola, ¿cómo saco el carnet de la biblioteca?", "utter_library_card"),
    "hi": ("नमस्ते, मुफ़्त में पोलिश भाषा कहाँ सीख सकते हैं?", "utter_polish_course"),
    "ka": ("გამარჯობა, როგორ ავიღო ბიბლიოთეკის ბარათი?", "utter_library_card"),
    "tr": ("Merhaba, kütüphane kartını nasıl alabilirim?", "utter_library_card"),
    "vi": ("Xin chào, làm sao để làm thẻ thư viện?", "utter_library_card"),
    "ar": ("مرحبا، كيف أحصل على بطاقة المكتبة؟", "utter_library_card"),
})
TWO_QUESTIONS.update({
    "es": ("¿Dónde puedo aprender polaco? ¿Y cómo encuentro trabajo?", "utter_polish_course", "utter_job_search"),
    "hi": ("पोलिश भाषा कहाँ सीखें? और नौकरी कैसे ढूँढें?", "utter_polish_course", "utter_job_search"),
    "ka": ("სად ვისწავლო პოლონური ენა? და როგორ ვიპოვო სამსახური?", "utter_polish_course", "utter_job_search"),
    "tr": ("Lehçeyi nerede öğrenebilirim? Ve nasıl iş bulurum?", "utter_polish_course", "utter_job_search"),
    "vi": ("Học tiếng Ba Lan ở đâu? Và làm sao để tìm việc?", "utter_polish_course", "utter_job_search"),
    "ar": ("أين أتعلم اللغة البولندية؟ وكيف أجد عملا؟", "utter_polish_course", "utter_job_search"),
})
LIBRARY_THEN_SATURDAY.update({
    "es": ("busco una biblioteca en Nowa Huta", "¿y el sábado?"),
    "hi": ("नोवा हुटा में लाइब्रेरी कहाँ है?", "और शनिवार को?"),
    "ka": ("სად არის ბიბლიოთეკა ნოვა ჰუტაში?", "შაბათს?"),
    "tr": ("Nowa Huta'da kütüphane var mı?", "peki cumartesi?"),
    "vi": ("thư viện ở Nowa Huta ở đâu?", "còn thứ Bảy thì sao?"),
    "ar": ("أين المكتبة في نوفا هوتا؟", "وماذا عن يوم السبت؟"),
})
EVENTS_FOR_CHILDREN_THEN_ADULTS.update({
    "es": ("¿qué hay el fin de semana en Cracovia para niños?", "¿y para adultos?"),
    "hi": ("इस वीकेंड क्राकोव में बच्चों के लिए क्या कार्यक्रम हैं?", "और बड़ों के लिए?"),
    "ka": ("რა ღონისძიებებია შაბათ-კვირას კრაკოვში ბავშვებისთვის?", "და უფროსებისთვის?"),
    "tr": ("hafta sonu Krakow'da çocuklar için ne var?", "peki yetişkinler için?"),
    "vi": ("cuối tuần ở Kraków có gì cho trẻ em?", "còn cho người lớn thì sao?"),
    "ar": ("ماذا هناك في عطلة نهاية الأسبوع في كراكوف للأطفال؟", "وللكبار؟"),
})
HOUSING.update({
    "es": ("necesito ayuda con la vivienda, nos echan del piso", "sí, quiero abrir un caso",
           "el casero dice que tenemos que dejar el piso antes de fin de mes", "Podgórze", "sí"),
    "hi": ("मुझे रहने की जगह के लिए मदद चाहिए, हमें घर से निकाला जा रहा है", "हाँ, मैं केस खोलना चाहता हूँ",
           "मकान मालिक कहता है कि महीने के अंत तक फ़्लैट खाली करना होगा", "Podgórze", "हाँ"),
    "ka": ("საცხოვრებელთან დაკავშირებით დახმარება მჭირდება, ბინიდან გვასახლებენ", "დიახ, მინდა საქმის გახსნა",
           "მეპატრონე ამბობს, რომ თვის ბოლომდე ბინა უნდა დავტოვოთ", "Podgórze", "დიახ"),
    "tr": ("konut konusunda yardıma ihtiyacım var, bizi evden çıkarıyorlar", "evet, başvuru açmak istiyorum",
           "ev sahibi ay sonuna kadar daireyi boşaltmamızı istiyor", "Podgórze", "evet"),
    "vi": ("tôi cần giúp đỡ về nhà ở, chúng tôi bị đuổi khỏi nhà", "vâng, tôi muốn mở hồ sơ",
           "chủ nhà bảo chúng tôi phải dọn đi trước cuối tháng", "Podgórze", "vâng"),
    "ar": ("أحتاج مساعدة في السكن، يطردوننا من الشقة", "نعم، أريد فتح ملف",
           "صاحب الشقة يقول إن علينا إخلاء الشقة قبل نهاية الشهر", "Podgórze", "نعم"),
})
TOPIC_TYPED.update({
    "es": ("quiero abrir un caso", "vivienda"),
    "hi": ("मैं एक केस खोलना चाहता हूँ", "घर"),
    "ka": ("მინდა საქმის გახსნა", "საცხოვრებელი"),
    "tr": ("başvuru açmak istiyorum", "konut"),
    "vi": ("tôi muốn mở hồ sơ", "nhà ở"),
    "ar": ("أريد فتح ملف", "السكن"),
})
NOT_A_TOPIC.update({
    "es": ("Oksana Petrenko", "oksana@example.org"),
    "hi": ("Oksana Petrenko", "oksana@example.org"),
    "ka": ("Oksana Petrenko", "oksana@example.org"),
    "tr": ("Oksana Petrenko", "oksana@example.org"),
    "vi": ("Oksana Petrenko", "oksana@example.org"),
    "ar": ("Oksana Petrenko", "oksana@example.org"),
})
ASIDE.update({
    "es": "¿dónde está la oficina de empleo?",
    "hi": "लेबर ऑफ़िस कहाँ है?",
    "ka": "სად არის დასაქმების ოფისი?",
    "tr": "iş bulma kurumu nerede?",
    "vi": "văn phòng lao động ở đâu?",
    "ar": "أين مكتب العمل؟",
})
PERSON.update({
    "es": "quiero hablar con una persona",
    "hi": "मुझे किसी इंसान से बात करनी है",
    "ka": "მინდა ადამიანთან საუბარი",
    "tr": "bir insanla konuşmak istiyorum",
    "vi": "tôi muốn nói chuyện với người thật",
    "ar": "أريد التحدث مع شخص",
})
WHERE_AFTER_LABOUR.update({
    "es": ("¿cómo me registro como desempleado?", "¿y dónde está?"),
    "hi": ("बेरोज़गार के रूप में रजिस्ट्रेशन कैसे करें?", "और यह कहाँ है?"),
    "ka": ("როგორ დავრეგისტრირდე უმუშევრად?", "და სად არის?"),
    "tr": ("işsiz olarak nasıl kayıt olurum?", "peki nerede?"),
    "vi": ("làm sao để đăng ký thất nghiệp?", "ở đâu vậy?"),
    "ar": ("كيف أسجل كعاطل عن العمل؟", "وأين يقع؟"),
})
COST_AFTER_HOUSING.update({
    "es": ("necesito ayuda con la vivienda, nos echan del piso", "¿cuánto cuesta?"),
    "hi": ("मुझे घर के लिए मदद चाहिए, हमें निकाला जा रहा है", "इसका कितना खर्च है?"),
    "ka": ("საცხოვრებელთან დახმარება მჭირდება, გვასახლებენ", "რა ღირს?"),
    "tr": ("konut için yardım lazım, bizi evden çıkarıyorlar", "ne kadar tutar?"),
    "vi": ("tôi cần giúp về nhà ở, chúng tôi bị đuổi", "cái này tốn bao nhiêu tiền?"),
    "ar": ("أحتاج مساعدة في السكن، يطردوننا", "كم يكلف ذلك؟"),
})
LOST_JOB_THEN_MONEY.update({
    "es": ("Hola, perdí mi trabajo la semana pasada, ¿qué hago?", "¿y me dan algo de dinero?"),
    "hi": ("नमस्ते, पिछले हफ़्ते मेरी नौकरी चली गई, अब क्या करूँ?", "क्या मुझे कुछ पैसे मिलेंगे?"),
    "ka": ("გამარჯობა, გასულ კვირას სამსახური დავკარგე, რა ვქნა?", "ფულს მივიღებ რამეს?"),
    "tr": ("Merhaba, geçen hafta işimi kaybettim, ne yapmalıyım?", "para alabilir miyim?"),
    "vi": ("Xin chào, tuần trước tôi bị mất việc, tôi phải làm gì?", "tôi có được nhận tiền không?"),
    "ar": ("مرحبا، فقدت عملي الأسبوع الماضي، ماذا أفعل؟", "هل سأحصل على أي مال؟"),
})
EMAIL_FIRST.update({
    "es": "mi correo es oksana.k@example.org",
    "hi": "मेरा ईमेल oksana.k@example.org है",
    "ka": "ჩემი ელფოსტაა oksana.k@example.org",
    "tr": "e-postam oksana.k@example.org",
    "vi": "email của tôi là oksana.k@example.org",
    "ar": "بريدي الإلكتروني oksana.k@example.org",
})
