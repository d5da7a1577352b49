"""No htmx action fails silently: a card gone in another tab, a session ended in another tab, an
error status or no connection each put a message in #flashes (read out) and keep what was typed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.extensions import db
from portal.users.models import User
from portal.wallet.models import PaymentMethod
from tests import factories as f
from tests.e2e.test_every_page import build_world, log_in

pytestmark = pytest.mark.e2e

REASON = "Moving to a clinic group that bills centrally"


@pytest.fixture
def world_portal(live_portal_factory):
    portal = live_portal_factory()
    return portal, build_world(portal.app)


@pytest.fixture
def two_tabs(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page(), context.new_page()
    context.close()


def expect_announced(page, words: str) -> None:
    expect(page.locator("#announcer")).to_contain_text(words)


def test_a_card_removed_in_another_tab_says_so(world_portal, two_tabs):
    portal, world = world_portal
    tab_a, tab_b = two_tabs
    with portal.app.app_context():
        owner_customer = db.session.scalar(
            sa.select(User.stripe_customer_id).where(User.email == world["people"]["owner"])
        )
        spare = f.PaymentMethodFactory(customer_id=owner_customer, brand="mastercard", last4="5454").stripe_id
    log_in(tab_a, portal.url, world["people"]["owner"])
    tab_b.goto(f"{portal.url}/account")
    tab_a.goto(f"{portal.url}/account")
    with portal.app.app_context():  # tab A removed it (what its Remove leaves behind)
        db.session.execute(sa.delete(PaymentMethod).where(PaymentMethod.stripe_id == spare))
        db.session.commit()
    tab_b.locator(f"li[data-card='{spare}']").get_by_role("button", name="Make default").click()
    error = tab_b.locator(".flash-error")
    expect(error).to_be_visible()
    assert "card" in error.text_content().lower()
    expect_announced(tab_b, error.text_content().strip())


def _open_cancel_form(page, portal, world) -> None:
    page.goto(f"{portal.url}/practices/{world['practice']}/billing")
    page.get_by_text("Cancel subscription").click()
    page.get_by_label("Why are you cancelling?").fill(REASON)


def test_signed_out_in_another_tab_says_sign_in_again_and_keeps_the_reason(world_portal, two_tabs):
    portal, world = world_portal
    tab_a, tab_b = two_tabs
    log_in(tab_a, portal.url, world["people"]["owner"])
    _open_cancel_form(tab_b, portal, world)
    tab_a.get_by_role("button", name="Log out").click()
    tab_a.wait_for_url(f"{portal.url}/login")
    tab_b.get_by_role("button", name="Cancel at period end").click()
    flashes = tab_b.locator("#flashes")
    expect(flashes).to_contain_text("You were signed out; sign in again.")
    link = flashes.get_by_role("link", name="Sign in again")
    assert f"next=/practices/{world['practice']}/billing" in link.get_attribute("href").replace("%2F", "/")
    expect_announced(tab_b, "You were signed out")
    expect(tab_b.get_by_label("Why are you cancelling?")).to_have_value(REASON)
    link.click()  # and back where they were once signed in
    tab_b.get_by_label("Email").fill(world["people"]["owner"])
    tab_b.get_by_label("Password").fill(f.DEFAULT_PASSWORD)
    tab_b.get_by_role("button", name="Log in").click()
    tab_b.wait_for_url(f"{portal.url}/practices/{world['practice']}/billing")


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"status": 502, "body": "Bad gateway"}, "Something went wrong on our side (error 502)"),
        ({"status": 429, "body": "slow down"}, "Too many tries in a short time"),
        (None, "We could not reach the portal"),
    ],
)
def test_an_error_status_or_no_connection_is_said_and_the_form_kept(world_portal, two_tabs, answer, said):
    portal, world = world_portal
    tab, _ = two_tabs
    log_in(tab, portal.url, world["people"]["owner"])
    _open_cancel_form(tab, portal, world)
    if answer is None:
        tab.route("**/billing/cancel", lambda route: route.abort("connectionrefused"))
    else:
        tab.route("**/billing/cancel", lambda route: route.fulfill(**answer))
    tab.get_by_role("button", name="Cancel at period end").click()
    expect(tab.locator("#flashes .flash-error")).to_contain_text(said)
    expect_announced(tab, said)
    expect(tab.get_by_label("Why are you cancelling?")).to_have_value(REASON)
