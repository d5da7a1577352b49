"""After every action the page shows the state as it now is: each section drawn by one partial, an
htmx answer swapping exactly the section the page holds (never one inside another), the banners
and the invoice table refreshed with it, no element id twice, and a word after Checkout."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import pytest

from portal.extensions import db
from portal.practices import checkout, members
from portal.practices.models import MemberRole, Plan
from portal.practices.status import BillingStatus
from tests.conftest import extract_csrf
from tests.factories import PracticeInvoiceFactory, UserFactory
from tests.practices.conftest import add_member, login
from tests.practices.test_views import HX, path_of, pay_checkout


@pytest.fixture
def live_practice(owner, runner):
    """A practice whose customer exists in the sandbox, the plans bootstrapped."""
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    return members.create_practice(owner, "Harbour Dental")


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])


def ids_of(html: str) -> Counter:
    parser = _Ids()
    parser.feed(html)
    return Counter(parser.ids)


def section(html: str, element_id: str) -> str:
    """The element with this id (a <section>), its per-render keys blanked."""
    start = html.index(f'<section class="card" id="{element_id}"')
    end = html.index("</section>", start) + len("</section>")
    return re.sub(r'name="attempt" value="[^"]+"', 'name="attempt" value=""', html[start:end])


def test_the_checkout_poll_swaps_the_billing_area_it_sits_in_never_a_second_one(
    owner_client, live_practice, owner
):
    url = checkout.start_checkout(live_practice, Plan.MONTHLY, owner)
    live_practice.checkout_session_id = url.rsplit("/", 1)[-1]
    db.session.commit()
    billing = f"/practices/{live_practice.id}/billing"
    page = owner_client.get(billing).get_data(as_text=True)
    assert 'hx-target="#practice-billing"' in section(page, "practice-billing")  # the poll's target
    # Paid, Stripe confirming: "Processing", not also a "Billing required" banner (no flapping).
    assert "Processing your payment" in page and 'data-banner="billing_required"' not in page

    waiting = owner_client.get(f"{billing}/status", headers=HX).get_data(as_text=True)
    assert ids_of(waiting)["practice-billing"] == 1 and ids_of(waiting)["billing-status"] == 1
    assert section(waiting, "practice-billing") == section(page, "practice-billing")
    assert 'data-banner="billing_required"' not in waiting

    pay_checkout(url)
    manager_poll = {**HX, "X-CSRFToken": extract_csrf(page)}  # a manager's page polls by POST
    done = owner_client.post(f"{billing}/status", headers=manager_poll).get_data(as_text=True)
    assert ids_of(done)["practice-billing"] == 1  # it replaces the area: no card nested in a card
    assert "Payment confirmed: you are subscribed to Monthly." in done
    assert 'id="banners" hx-swap-oob="true"' in done
    assert re.search(r'id="practice-invoices"[^>]* hx-swap-oob="true"', done)
    assert "Paid" in section(done, "practice-invoices")


def test_back_from_checkout_the_page_says_subscribed(owner_client, live_practice, owner):
    success = pay_checkout(checkout.start_checkout(live_practice, Plan.SEMIANNUAL, owner))
    page = owner_client.get(path_of(success), follow_redirects=True).get_data(as_text=True)
    assert "Payment confirmed: you are subscribed to Every 6 months. Thank you!" in page
    assert 'data-billing-status="DONE"' in page


def test_no_element_id_twice_on_the_billing_page_or_in_an_htmx_answer(owner_client, live_practice, owner):
    pay_checkout(checkout.start_checkout(live_practice, Plan.MONTHLY, owner))
    billing = f"/practices/{live_practice.id}/billing"
    owner_client.get(billing)
    PracticeInvoiceFactory(practice=live_practice, status="open")
    for html in (
        owner_client.get(billing).get_data(as_text=True),
        owner_client.get(f"{billing}/status", headers=HX).get_data(as_text=True),
        owner_client.get(f"{billing}/invoices", headers=HX).get_data(as_text=True),
    ):
        assert [element_id for element_id, n in ids_of(html).items() if n > 1] == []


def test_members_see_what_to_ask_for_not_buttons_they_are_refused(auth, practice):
    practice.billing_status = BillingStatus.PAST_DUE
    practice.last_payment_error = "Your card was declined."
    db.session.commit()
    member = UserFactory()
    add_member(practice, member, MemberRole.MEMBER)
    page = login(auth, member).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    start = page.index('data-banner="payment_failed"')
    banner = page[start : page.index("</details>", start)]
    assert "Ask the practice's owner or an admin to update the card." in banner
    assert "Pay now" not in page and "Update card" not in page


def test_on_a_practice_page_only_its_banner_elsewhere_one_and_a_count(auth, owner, practice):
    from tests.practices.conftest import make_practice

    other = make_practice(owner, "Second Clinic")
    third = make_practice(owner, "Third Clinic")
    for each in (practice, other, third):
        each.billing_status = BillingStatus.REQUIRED
    db.session.commit()
    client = login(auth, owner)
    page = client.get(f"/practices/{other.id}/billing").get_data(as_text=True)
    assert page.count("data-banner=") == 1 and "<strong>Second Clinic:</strong>" in page
    account = client.get("/account").get_data(as_text=True)
    assert account.count('data-banner="billing_required"') == 1
    assert "2 more practices need attention" in account


def test_the_default_card_of_a_live_subscription_offers_no_remove_it_would_be_refused(auth, owner, practice):
    from tests.factories import PaymentMethodFactory

    practice.stripe_subscription_id, practice.subscription_status = "sub_live", "active"
    db.session.commit()
    default = PaymentMethodFactory(customer_id=practice.stripe_customer_id, is_default=True, last4="4242")
    other = PaymentMethodFactory(customer_id=practice.stripe_customer_id, last4="4444")
    page = login(auth, owner).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert f"/cards/{default.stripe_id}/remove" not in page
    assert "make another card the default to remove it" in page
    assert f"/cards/{other.stripe_id}/remove" in page
