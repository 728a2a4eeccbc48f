"""The assistant's answers as safe, structured text (issue 12, item 5): paragraphs, line breaks,
bullet lists and links only to the allowed hosts, everything else escaped; a person's own message
is never turned into markup or links."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from app.assistant import service
from app.assistant.models import Conversation
from app.assistant.service import allowed_link, answer_html
from app.config import ConfigError, load_settings
from tests.conftest import csrf_from

HOSTS = ("krakow.pl", "gov.pl", "krakowculture.pl")


class Structure(HTMLParser):
    """Every tag and attribute of a piece of HTML, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def parsed(html: str) -> Structure:
    structure = Structure()
    structure.feed(str(html))
    structure.close()
    return structure


def links(html: str) -> list[str]:
    return [attrs["href"] for tag, attrs in parsed(html).tags if tag == "a"]


def only_safe_markup(html: str) -> bool:
    for tag, attrs in parsed(html).tags:
        if tag not in ("p", "br", "ul", "li", "a"):
            return False
        if tag == "a" and (set(attrs) != {"href", "rel"} or attrs["rel"] != "noopener noreferrer"):
            return False
        if tag != "a" and attrs:
            return False
    return True


# --- structure ---------------------------------------------------------------------------------------


def test_paragraphs_line_breaks_and_lists():
    text = (
        "  Where to find a job in Kraków:\n"
        "• public offers: https://oferty.praca.gov.pl (search for Kraków),\n"
        "- the City Labour Office: https://gupkrakow.praca.gov.pl.\n"
        "Tips: ask for a written contract.\n"
        "\n"
        "   \n"
        "Second paragraph,\nsecond line."
    )
    html = str(answer_html(text, hosts=HOSTS))
    assert html == (
        "<p>Where to find a job in Kraków:</p>\n"
        "<ul><li>public offers: "
        '<a href="https://oferty.praca.gov.pl" rel="noopener noreferrer">https://oferty.praca.gov.pl</a>'
        " (search for Kraków),</li>"
        "<li>the City Labour Office: "
        '<a href="https://gupkrakow.praca.gov.pl" rel="noopener noreferrer">https://gupkrakow.praca.gov.pl</a>'
        ".</li></ul>\n"
        "<p>Tips: ask for a written contract.</p>\n"
        "<p>Second paragraph,<br>\nsecond line.</p>"
    )


def test_a_bare_www_address_of_an_allowed_host_links_over_https():
    assert links(answer_html("See www.biblioteka.krakow.pl for hours.", hosts=HOSTS)) == [
        "https://www.biblioteka.krakow.pl"
    ]


def test_query_strings_are_escaped_in_the_link():
    html = str(answer_html("https://www.krakow.pl/szukaj?q=praca&lang=uk", hosts=HOSTS))
    assert 'href="https://www.krakow.pl/szukaj?q=praca&amp;lang=uk"' in html
    assert links(html) == ["https://www.krakow.pl/szukaj?q=praca&lang=uk"]


def test_every_address_in_the_dialogues_is_linked_with_the_default_hosts(settings):
    from app.assistant import flows

    responses = flows.dialogue_engine(settings).data.domain.responses
    addresses = {
        match.rstrip(".,;:)")
        for variations in responses.values()
        for variation in variations
        for match in re.findall(r"https://[^\s\"')]+", variation.text)
    }
    assert addresses
    for address in addresses:
        assert allowed_link(address, settings.chat_link_hosts) == address, address


# --- hostile text ------------------------------------------------------------------------------------


HOSTILE = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">click</a>',
    '<img src=x onerror="alert(1)">',
    "https://krakow.pl.evil.example/login",
    "https://www.krakow.pl.evil.example",
    "https://evilkrakow.pl/",
    "https://krakow.pl@evil.example/",
    "https://www.krakow.pl:8443/",
    "http://www.krakow.pl/",
    "https://www.krakоw.pl/",  # a Cyrillic о
    "https://xn--krakw-3we.pl/",
    "https:/www.krakow.pl",
    "//www.krakow.pl",
    "https://gov.pl.evil.example",
    "https://www.krakow.pl\\@evil.example",
    "www.evil.example",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_text(text):
    html = answer_html(f"Look: {text} now", hosts=HOSTS)
    assert only_safe_markup(html), html
    assert links(html) in ([], ["https://www.krakow.pl"]), html  # never another host
    assert parsed(html).text == f"Look: {text} now"  # nothing of the text is lost or added


@pytest.mark.parametrize(
    "text",
    [
        'https://www.krakow.pl/"onmouseover="alert(1)',
        "https://www.krakow.pl/<img src=x onerror=alert(1)>",
        "https://www.krakow.pl/'><script>alert(1)</script>",
        "https://www.krakow.pl/`x`",
    ],
)
def test_an_address_cannot_break_out_of_its_link(text):
    html = answer_html(text, hosts=HOSTS)
    assert only_safe_markup(html), html
    assert links(html) == ["https://www.krakow.pl/"]
    assert parsed(html).text == text


def test_no_hosts_no_links():
    html = answer_html("https://www.krakow.pl", hosts=())
    assert links(html) == [] and str(html) == "<p>https://www.krakow.pl</p>"


# --- the setting -------------------------------------------------------------------------------------


def test_link_hosts_setting_is_a_list_of_host_names():
    assert load_settings(chat_link_hosts=" Krakow.pl, *.gov.pl,, ").chat_link_hosts == ("krakow.pl", "gov.pl")
    with pytest.raises(ConfigError, match="WITAJ_CHAT_LINK_HOSTS"):
        load_settings(chat_link_hosts="https://www.krakow.pl/")
    with pytest.raises(ConfigError, match="WITAJ_CHAT_LINK_HOSTS"):
        load_settings(chat_link_hosts="localhost")


# --- on the chat page --------------------------------------------------------------------------------


def _bubbles(html: str, author: str) -> list[str]:
    return re.findall(
        rf'<li class="msg msg-{author}"[^>]*>(.*?)</li>(?=\s*(?:<li class="msg|</ol>))', html, re.S
    )


def test_the_chat_shows_answers_as_lists_and_links(client, world):
    page = client.get("/en/chat")
    client.post("/en/chat", data={"csrf_token": csrf_from(page.text), "message": "/library_card"})
    html = client.get("/en/chat").text
    answer = _bubbles(html, "bot")[-1]
    assert "<ul><li>" in answer
    assert (
        '<a href="https://www.biblioteka.krakow.pl" rel="noopener noreferrer">https://www.biblioteka.krakow.pl</a>'
        in answer
    )


def test_a_persons_own_message_is_never_made_into_links_or_markup(client, db, settings, world):
    page = client.get("/en/chat")
    token = csrf_from(page.text)
    typed = "See https://www.krakow.pl\n• <b>not a list</b>"
    client.post("/en/chat", data={"csrf_token": token, "message": typed})
    client.post("/en/chat", data={"csrf_token": token, "message": "I want to talk to a human"})
    conversation = db.scalar(select(Conversation).where(Conversation.channel == "web"))
    service.staff_reply(
        db=db,
        settings=settings,
        conversation=conversation,
        user_id=world.caseworker.id,
        text="Read https://www.krakow.pl/<i>x</i>",
        language="en",
    )
    db.commit()
    html = client.get("/en/chat").text
    mine = _bubbles(html, "user")[0]
    assert "<a " not in mine and "<ul>" not in mine and "&lt;b&gt;not a list&lt;/b&gt;" in mine
    staff = _bubbles(html, "staff")[0]
    assert "<a " not in staff and "&lt;i&gt;x&lt;/i&gt;" in staff


def test_hostile_content_in_an_answer_is_escaped_on_the_page(client, db, settings, world):
    page = client.get("/en/chat")
    client.post("/en/chat", data={"csrf_token": csrf_from(page.text), "message": "hello"})
    conversation = db.scalar(select(Conversation).where(Conversation.channel == "web"))
    service.store(
        db,
        conversation,
        "bot",
        'Hi <script>alert(1)</script> javascript:alert(1) https://krakow.pl.evil.example https://www.krakow.pl/"x',
        language="en",
    )
    db.commit()
    answer = _bubbles(client.get("/en/chat").text, "bot")[-1]
    assert "<script>" not in answer and "&lt;script&gt;" in answer
    assert links(answer) == ["https://www.krakow.pl/"]



def test_a_page_of_this_site_in_a_language_is_linked_and_nothing_else_that_starts_with_a_slash():
    html = str(service.answer_html("Follow your case at /uk/follow. Or //evil.example/x, /etc/passwd, /uk/../x", hosts=()))
    assert '<a href="/uk/follow" rel="noopener noreferrer">/uk/follow</a>' in html
    assert "evil.example" in html and html.count("<a ") == 1  # //host, /etc/..., /uk/../ stay text
