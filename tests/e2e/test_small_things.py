"""The small things a person notices: the card element's fields fit their box on a phone, the
menu opens and closes from the keyboard, a favicon, messages cleared when a new action starts."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from portal.extensions import db
from portal.practices.models import Practice
from tests.e2e.test_every_page import build_world, log_in

pytestmark = pytest.mark.e2e

_FIELDS_INSIDE = """() => [...document.querySelectorAll('input')].map(input => {
  const box = input.getBoundingClientRect();
  return box.left >= 0 && box.top >= 0 && box.right <= innerWidth && box.bottom <= innerHeight;
})"""


@pytest.fixture
def world_portal(live_portal_factory):
    portal = live_portal_factory()
    return portal, build_world(portal.app)


@pytest.mark.parametrize("width", [320, 390, 1280])
def test_the_card_elements_fields_fit_their_box(width, browser, world_portal):
    portal, world = world_portal
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    log_in(page, portal.url, world["people"]["owner"])
    page.goto(f"{portal.url}/practices/{world['practice']}/billing")
    frame = page.frame_locator("iframe[title='Secure card payment input frame']")
    expect(frame.get_by_label("CVC")).to_be_attached()
    card_frame = next(f for f in page.frames if "/v3/elements/card" in f.url)
    assert card_frame.evaluate(_FIELDS_INSIDE) == [True, True, True]
    # Reached by keyboard: Tab goes from the card number to the expiry and the CVC.
    frame.get_by_label("Card number").focus()
    page.keyboard.press("Tab")
    assert card_frame.evaluate("document.activeElement.id") == "expiry"
    context.close()


def test_the_phone_menu_opens_and_closes_from_the_keyboard(browser, world_portal):
    portal, world = world_portal
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, portal.url, world["people"]["owner"])
    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Practices")).to_be_hidden()
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Practices")).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    # On a desktop there is no menu button: the links are all there.
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(menu).to_be_hidden()
    expect(nav.get_by_role("link", name="Practices")).to_be_visible()
    context.close()


def test_a_favicon_at_the_root_and_in_the_page(world_portal):
    portal, _ = world_portal
    icon = requests.get(f"{portal.url}/favicon.ico", timeout=5)
    assert icon.status_code == 200 and icon.headers["Content-Type"] in (
        "image/vnd.microsoft.icon",
        "image/x-icon",
    )
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = requests.get(f"{portal.url}/login", timeout=5).text
    assert 'rel="icon"' in page and "favicon.svg" in page


def test_a_swap_is_announced_and_a_new_action_clears_the_last_ones_message(browser, world_portal):
    portal, world = world_portal
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, portal.url, world["people"]["owner"])
    page.goto(f"{portal.url}/practices/{world['practice']}/billing")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#wallet-cards li", has_text="4444").get_by_role("button", name="Remove").click()
    message = page.locator("#wallet-cards .flash")
    expect(message).to_have_count(1)
    # What a screen reader says: the swapped-in answer (here the sandbox, which never saw this made-up
    # card, refuses; the answer is what matters).
    expect(page.locator("#announcer")).to_have_text(message.inner_text().strip())
    # The next action starts: the old answer goes at once (before the next one arrives).
    page.route("**/billing/cards/**", lambda route: None)  # hold the request: only the start is seen
    page.locator("#wallet-cards li", has_text="4444").get_by_role("button", name="Make default").click()
    expect(message).to_have_count(0)
    context.close()


def test_after_a_swap_the_keyboard_stays_in_the_swapped_section(browser, world_portal):
    portal, world = world_portal
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, portal.url, world["people"]["owner"])
    page.goto(f"{portal.url}/practices/{world['practice']}/billing")
    remove = page.locator("#wallet-cards li", has_text="4444").get_by_role("button", name="Remove")
    remove.focus()
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(page.locator("#wallet-cards .flash")).to_have_count(1)
    expect(page.locator("#wallet-cards")).to_be_focused()  # not back at the top of the page
    context.close()


def test_a_banner_is_a_line_and_a_button_on_a_phone_its_explanation_a_tap_away(browser, world_portal):
    portal, world = world_portal
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, portal.url, world["people"]["owner"])
    page.goto(f"{portal.url}/practices/{world['practice']}/billing")
    banner = page.locator('[data-banner="payment_failed"]')
    explanation = banner.get_by_text("Stripe will retry")
    expect(explanation).to_be_hidden()
    assert banner.bounding_box()["height"] < 0.2 * 844  # a fifth of the screen at most
    expect(page.locator("[data-banner]")).to_have_count(1)  # this practice's only
    banner.locator("summary").click()
    expect(explanation).to_be_visible()
    # On a desktop the explanation is shown from the start.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    expect(page.locator('[data-banner="payment_failed"]').get_by_text("Stripe will retry")).to_be_visible()
    context.close()


_IN_VIEW = """(element) => {
  const box = element.getBoundingClientRect();
  return box.top >= 0 && box.bottom <= innerHeight;
}"""


@pytest.mark.parametrize("width", [390, 1280])
def test_the_billing_details_answer_is_where_the_person_is_looking(width, browser, world_portal):
    portal, world = world_portal
    with portal.app.app_context():  # the world's customer id is made up: the save makes a real one
        db.session.get(Practice, world["practice"]).stripe_customer_id = None
        db.session.commit()
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    log_in(page, portal.url, world["people"]["owner"])
    page.goto(f"{portal.url}/practices/{world['practice']}/billing")
    section = page.locator("#billing-details")
    tax_type = section.get_by_label("Tax ID type")
    section.get_by_label("Country").select_option("DE")  # the tax ID type follows (app.js)
    expect(tax_type).to_have_value("eu_vat")
    section.get_by_label("Country").select_option("")  # an address is whole or not at all
    section.get_by_label("Legal name").fill(f"Legal Name at {width} px")
    save = section.get_by_role("button", name="Save billing details")
    save.click()
    message = section.get_by_role("status")
    expect(message).to_have_text("Billing details saved. Stripe prints them on the practice's next invoices.")
    expect(save).to_be_focused()  # the keyboard's place stays
    assert message.evaluate(_IN_VIEW) and save.evaluate(_IN_VIEW)
    expect(page.locator("#announcer")).to_have_text(message.inner_text())
    context.close()


#: The lines each header, amount and date cell of the invoice tables is drawn on (its text's boxes).
_LINES_OF_CELLS = """() => [...document.querySelectorAll(
    '#practice-invoices th, #practice-invoices td.nowrap, [aria-labelledby=admin-invoices-title] th,'
    + ' [aria-labelledby=admin-invoices-title] td.nowrap')]
  .filter(cell => cell.offsetParent !== null && cell.textContent.trim())
  .filter(cell => !cell.querySelector('.visually-hidden'))
  .map(cell => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    return [cell.textContent.trim(), tops.size];
  })"""


def _ended_with_a_note(app, practice_id: int) -> None:
    """The practice's subscription ended after failed payments; its $598.00 renewal not collected."""
    from portal.practices.status import BillingStatus
    from tests import factories as f

    with app.app_context():
        practice = db.session.get(Practice, practice_id)
        practice.subscription_status = "canceled"
        practice.billing_status = BillingStatus.CANCELLED
        f.PracticeInvoiceFactory(
            practice=practice,
            status="uncollectible",
            amount_due=59800,
            subscription_id=practice.stripe_subscription_id,
        )
        db.session.commit()


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_invoice_amounts_and_headers_never_break_beside_a_note(width, browser, world_portal):
    portal, world = world_portal
    _ended_with_a_note(portal.app, world["practice"])
    for who, path in (
        ("owner", f"/practices/{world['practice']}/billing"),
        ("admin", f"/admin/practices/{world['practice']}"),
    ):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        log_in(page, portal.url, world["people"][who])
        page.goto(f"{portal.url}{path}")
        note = page.get_by_text("Not collected: the subscription ended after the last payment failed.")
        expect(note.first).to_be_visible()
        cells = page.evaluate(_LINES_OF_CELLS)
        assert ["$598.00", 1] in cells and all(lines == 1 for _, lines in cells), (who, cells)
        context.close()
