"""Stripe.js hanging (Stripe's script host answers nothing) never stops a page drawing: the rest of
the page is there at once, the card form says it is loading, then that it is unavailable."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories as f
from tests.e2e.test_every_page import build_world
from tests.gateway.hung_stripe import HungStripe

pytestmark = pytest.mark.e2e


@pytest.fixture
def hung_portal(live_portal_factory):
    """A portal whose Stripe (and so its Stripe.js, ``<api base>/v3/``) accepts and never answers."""
    with HungStripe() as hung:
        portal = live_portal_factory(STRIPE_API_BASE=hung.url, STRIPE_JS_LOAD_TIMEOUT_SECONDS=2)
        yield portal, build_world(portal.app)


@pytest.mark.parametrize("path", ["/account", "/practices/{practice}/billing"])
def test_a_hung_stripe_js_leaves_the_page_drawn_and_the_card_form_says_so(hung_portal, page, path):
    portal, world = hung_portal
    page.goto(f"{portal.url}/login")
    page.get_by_label("Email").fill(world["people"]["owner"])
    page.get_by_label("Password").fill(f.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click(no_wait_after=True)
    page.wait_for_url(f"{portal.url}/account", wait_until="domcontentloaded", timeout=5_000)
    page.goto(portal.url + path.format(**world), wait_until="domcontentloaded", timeout=5_000)
    expect(page.locator("footer")).to_contain_text("Payments by Stripe", timeout=1_000)
    expect(page.locator("#card-element")).to_contain_text("Card form loading…", timeout=1_000)
    expect(page.locator("#card-element")).to_contain_text("Card form unavailable, try later.", timeout=5_000)
    expect(page.get_by_role("button", name="Save card")).to_be_hidden()
