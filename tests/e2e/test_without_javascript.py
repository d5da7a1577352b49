"""With JavaScript off, every form on every page either works as a plain form post or says plainly
that it needs JavaScript (adding a card, the bank's 3-D Secure check): none is a dead end."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.pages import ADMIN, MEMBER, OWNER, PAGES, VISITOR
from tests.e2e.test_every_page import build_world, log_in, page_url

pytestmark = pytest.mark.e2e

#: Forms with a visible submit button that only a script can send: no action and no method (a
#: form with either posts or gets on its own; one with neither would just reload the page).
_DEAD_ENDS = """() => [...document.forms].filter(form => {
  const button = form.querySelector('button[type=submit], button:not([type]), input[type=submit]');
  const visible = button && button.offsetParent !== null;
  return visible && !form.hasAttribute('action') && !form.hasAttribute('method');
}).map(form => form.id || form.outerHTML.slice(0, 80))"""


@pytest.mark.parametrize("role", [VISITOR, MEMBER, OWNER, ADMIN])
def test_every_form_works_or_says_it_needs_javascript(role, browser, live_portal_factory):
    portal = live_portal_factory()
    world = build_world(portal.app)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    if role != VISITOR:
        log_in(page, portal.url, world["people"][role])
    dead_ends = {}
    for listed in [p for p in PAGES if role in p.roles]:
        page.goto(page_url(portal.app, portal.url, listed, world))
        found = page.evaluate(_DEAD_ENDS)
        if found:
            dead_ends[listed.endpoint] = found
    if role == OWNER:  # the account page's "Add a card" says why it is not there
        page.goto(f"{portal.url}/account")
        assert page.locator("[data-needs-javascript]").is_visible()
        assert "Adding a card needs JavaScript" in page.locator("#wallet").inner_text()
        expect(page.get_by_text("Card form loading")).to_be_hidden()  # it never would
    context.close()
    assert dead_ends == {}
