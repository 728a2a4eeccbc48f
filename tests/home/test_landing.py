"""The landing page's "how we can help" cards: each one leads somewhere, in the reader's language."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("locale", ["uk", "pl"])
def test_every_help_card_links_to_a_page_that_exists(client, locale):
    page = client.get(f"/{locale}/").text
    section = page[page.index('id="services-heading"') :]
    cards = re.findall(
        r'<li class="card">(.*?)</li>\s*(?=<li class="card">|</ul>\s*</section>)', section, re.S
    )
    assert len(cards) == 4
    for card in cards:
        links = re.findall(r'<a href="([^"]+)"', card)
        assert links, card
        for href in links:
            assert href.startswith(f"/{locale}/")  # in the same language
            assert client.get(href).status_code == 200, href
