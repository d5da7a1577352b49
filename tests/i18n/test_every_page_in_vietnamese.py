"""Every page of the portal (``portal.pages.PAGES``, the browser sweep's list and its world), for each
role that sees it, read in Vietnamese: none shows a sentence of the catalogue in English. A string
wrapped on one page and left bare on another, or a msgid that drifted from its template, shows up
here, on whichever page it is."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po
from flask import g

from portal.pages import PAGES, VISITOR
from tests.conftest import extract_csrf
from tests.e2e.test_every_page import OTHER_STATES, build_world, page_url
from tests.factories import DEFAULT_PASSWORD
from tests.i18n.test_pages_a import VI, VI_CATALOGUE, english_left, text

#: Words the catalogue translates that a page may still show as they are: the product's name, and
#: names people typed or Stripe gave (they match a msgid only by accident).
AS_THEY_ARE = {"Practice Billing", "Stripe sandbox"}
#: The development inbox shows each email as it was sent, in its recipient's language (the world's
#: people chose none: English), which is no page text of its own.
NOT_ITS_OWN_WORDS = {"dev_inbox.inbox"}


def catalogue_sentences() -> set[str]:
    with VI_CATALOGUE.open("rb") as source:
        catalogue = read_po(source)
    return {
        message.id
        for message in catalogue
        if isinstance(message.id, str) and message.string and message.string != message.id
    } - AS_THEY_ARE


@pytest.mark.parametrize("role", ["visitor", "member", "owner", "admin"])
def test_every_page_reads_in_vietnamese(app, client, role):
    world = build_world(app)
    sentences = catalogue_sentences()
    if role != VISITOR:
        g.pop("csrf_token", None)
        token = extract_csrf(client.get("/login").get_data(as_text=True))
        answer = client.post(
            "/login", data={"email": world["people"][role], "password": DEFAULT_PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    left = {}
    for listed in [
        p for p in PAGES + OTHER_STATES if role in p.roles and p.endpoint not in NOT_ITS_OWN_WORDS
    ]:
        g.pop("csrf_token", None)
        url = page_url(app, "", listed, world)
        response = client.get(url, headers=VI)
        assert response.status_code < 500, url
        english = english_left(text(response), sentences)
        if english:
            left[f"{listed.endpoint} {url}"] = sorted(english)
    assert left == {}, left
