"""Booking, moving and cancelling a visit in the chat (issue 16, point 3): through the web chat and
Rasa's REST channel, with the real dialogues, the real NLU model and a real database, at a fixed
Monday in March 2027 so that the free times are known."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.appointments import service as appointment_service
from app.appointments.models import Appointment
from app.assistant import flows
from app.assistant.models import Conversation
from app.assistant.routes import CHAT_COOKIE
from app.i18n import translations
from tests.assistant.fake_provider import serving
from tests.assistant.fake_telegram import SECRET, TOKEN, FakeTelegram, button_update, text_update
from tests.conftest import csrf_from

NOW = datetime(2027, 3, 8, 8, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def rest(client, sender: str, message: str) -> list[dict]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert response.status_code == 200, response.text
    return response.json()


def payload(slot: str, value: str) -> str:
    return "/inform" + json.dumps({slot: value}, ensure_ascii=False)


def times(answer: list[dict]) -> list[dict]:
    return [b for m in answer for b in m.get("buttons", []) if '"visit_time"' in b.get("payload", "") and "later" not in b["payload"]]


def visits(db, **where):
    query = select(Appointment)
    for name, value in where.items():
        query = query.where(getattr(Appointment, name) == value)
    db.expire_all()
    return list(db.scalars(query))


def test_rest_books_an_evening_visit_in_ukrainian_moves_it_and_cancels_it(client, db, world, clock, settings):
    uk = translations("uk").ugettext
    sender = "visit-uk"
    asked = rest(client, sender, "хочу записатися на прийом в уряд праці ввечері")
    services = [b for b in asked[-1]["buttons"]]
    assert asked[-1]["text"] == uk("Let's book a visit. What is the visit for?")
    assert uk("Registration as unemployed or job seeker") in [b["title"] for b in services]
    places = rest(client, sender, payload("visit_service", "labour-registration"))[-1]["buttons"]
    # evenings only: the main office (open till 18:00 on Tuesdays) offers registration; a desk that
    # speaks Ukrainian comes first
    assert places and all("(" in b["title"] for b in places)
    assert "gup-sliska" in places[0]["payload"]
    offered = times(rest(client, sender, payload("visit_place", "gup-sliska")))
    assert len(offered) == 6
    first = json.loads(offered[0]["payload"][len("/inform"):])["visit_time"]
    assert datetime.fromisoformat(first).astimezone(settings.zone).hour >= 17  # evening only
    later = rest(client, sender, payload("visit_time", "later"))
    assert times(later) and times(later)[0]["payload"] != offered[0]["payload"]
    rest(client, sender, offered[0]["payload"])
    rest(client, sender, "Олена Коваль")
    rest(client, sender, "olena@example.com")
    booked = rest(client, sender, payload("visit_interpreter", "no"))
    [visit] = visits(db, place_id="gup-sliska")
    assert visit.starts_at == datetime.fromisoformat(first)
    assert visit.language == "uk" and visit.source == "chat" and visit.interpreter_language is None
    assert appointment_service.person_of(visit, settings).email == "olena@example.com"
    text = booked[-1]["text"]
    assert visit.reference in text and uk("Your passport or residence card") in text
    links = [b["url"] for b in booked[-1]["buttons"] if "url" in b]
    token = appointment_service.link_secret(visit, settings)
    assert any(link.endswith(f"/uk/visits/v/{token}") for link in links)
    assert any("openstreetmap.org" in link for link in links)

    # move: the times at the same place again
    again = times(rest(client, sender, "/appointment_move"))
    assert again
    rest(client, sender, again[1]["payload"])
    moved = visits(db, id=visit.id)[0]
    assert moved.starts_at == datetime.fromisoformat(json.loads(again[1]["payload"][len("/inform"):])["visit_time"])
    assert moved.status == appointment_service.BOOKED

    # cancel: asked first
    question = rest(client, sender, "скасуйте мій запис")
    assert visits(db, id=visit.id)[0].status == appointment_service.BOOKED
    assert any(b["payload"] == "/affirm" for b in question[-1]["buttons"])
    rest(client, sender, "так")
    assert visits(db, id=visit.id)[0].status == appointment_service.CANCELLED
    nothing = rest(client, sender, "/appointment_cancel")
    assert nothing[-1]["text"] == uk(flows.dialogue_engine(settings).data.domain.responses["utter_no_visit_in_chat"][0].text)


def test_a_time_taken_meanwhile_is_offered_again(client, db, world, clock, settings):
    sender = "visit-race"
    rest(client, sender, "/appointment")
    rest(client, sender, payload("visit_service", "library-card"))
    place = "kiosk-galeria-krakowska"  # a kiosk with one desk
    offered = times(rest(client, sender, payload("visit_place", place)))
    chosen = datetime.fromisoformat(json.loads(offered[0]["payload"][len("/inform"):])["visit_time"])
    rest(client, sender, offered[0]["payload"])
    rest(client, sender, "Ahmad Ali")
    rest(client, sender, "+48 600 123 456")
    # someone books every desk of that time on the web meanwhile
    desks = appointment_service.catalogue(settings).places[place].desks
    for n in range(desks):
        appointment_service.book(
            db=db, settings=settings, service_id="library-card", place_id=place, starts_at=chosen,
            person=appointment_service.Person(f"Someone {n}", "a@example.com"), language="pl", source="web", now=NOW,
        )
    db.commit()
    answer = rest(client, sender, payload("visit_interpreter", "no"))
    assert answer[0]["text"] == translations("pl").ugettext("Sorry, someone has just booked that time. Please choose another one.")
    again = times(answer)
    assert again and all(b["payload"] != offered[0]["payload"] for b in again)
    rest(client, sender, again[0]["payload"])
    assert len(visits(db, place_id=place, source="chat")) == 1


def test_the_web_chat_books_a_visit_in_arabic_and_erasing_the_chat_still_works(client, db, world, clock, settings):
    ar = translations("ar").ugettext
    token = csrf_from(client.get("/ar/chat").text)

    def say(text: str) -> None:
        client.post("/ar/chat", data={"csrf_token": token, "message": text}, follow_redirects=False)

    say("بدي احجز موعد")
    say(payload("visit_service", "career-adviser"))
    say(payload("visit_place", "gup-sliska"))
    say("1")
    say("Ahmad Ali")
    say("ahmad@example.com")
    say(payload("visit_interpreter", "ar"))
    [visit] = visits(db, source="chat")
    assert visit.place_id == "gup-sliska" and visit.language == "ar" and visit.interpreter_language == "ar"
    page = client.get("/ar/chat").text
    assert visit.reference in page and ar("Your CV, if you have one") in page
    sender = client.cookies.get(CHAT_COOKIE)
    say("امسح كل محادثتي")
    say("نعم")
    assert db.scalar(select(Conversation).where(Conversation.sender_id == sender)) is None
    assert visits(db, id=visit.id)[0].status == appointment_service.BOOKED  # the visit stays with the office


def test_on_telegram_the_messenger_is_the_contact_and_the_visit_page_is_a_link_button(client, app, db, world, clock, settings):
    with serving(FakeTelegram()) as telegram:
        app.state.settings = settings.model_copy(
            update={"telegram_bot_token": TOKEN, "telegram_webhook_secret": SECRET, "telegram_api_url": telegram.url}
        )

        def say(update) -> list[dict]:
            before = len(telegram.sent(732))
            assert client.post("/webhooks/telegram", json=update, headers={"x-telegram-bot-api-secret-token": SECRET}).status_code == 200
            return telegram.sent(732)[before:]

        def buttons(sent: list[dict]) -> list[dict]:
            return [b for m in sent for row in m.get("reply_markup", {}).get("inline_keyboard", []) for b in row]

        say(text_update(732, "хочу записатися на прийом"))
        say(button_update(732, payload("visit_service", "library-card")))
        offered = [b for b in buttons(say(button_update(732, payload("visit_place", "kiosk-serenada")))) if "visit_time" in b.get("callback_data", "")]
        say(button_update(732, offered[0]["callback_data"]))
        skip = buttons(say(text_update(732, "Олена")))
        assert [json.loads(b["callback_data"][len("/inform"):]) for b in skip] == [{"visit_contact": "messenger"}]
        say(button_update(732, skip[0]["callback_data"]))
        done = say(button_update(732, payload("visit_interpreter", "no")))
        [visit] = visits(db, source="chat")
        conversation = db.scalar(select(Conversation).where(Conversation.id == visit.conversation_id))
        assert conversation.channel == "telegram" and visit.reminder_channel == appointment_service.MESSENGER
        assert any(b.get("url", "").endswith(f"/uk/visits/v/{appointment_service.link_secret(visit, settings)}") for b in buttons(done))
