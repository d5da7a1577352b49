"""Words a person reads or hears: card brands as written, buttons that name their card, events in
sentences (ids behind a toggle), invoice statuses as the billing page's badges, link text that
says where it goes."""

from __future__ import annotations

import re

from portal.practices.models import Plan
from portal.practices.status import BillingStatus
from portal.users.models import Role
from tests.factories import (
    PaymentMethodFactory,
    PracticeFactory,
    PracticeInvoiceFactory,
    UserFactory,
    WebhookEventFactory,
)
from tests.practices.conftest import login


def test_card_buttons_and_questions_name_the_card_as_written(auth):
    owner = UserFactory(with_customer=True)
    PaymentMethodFactory(customer_id=owner.stripe_customer_id, is_default=True, brand="visa", last4="4242")
    PaymentMethodFactory(customer_id=owner.stripe_customer_id, brand="amex", last4="8431")
    page = login(auth, owner).get("/account").get_data(as_text=True)
    assert 'hx-confirm="Remove the Visa ending in 4242?"' in page
    assert 'Make default<span class="visually-hidden">: American Express ending in 8431</span>' in page
    assert "(visa 4242)" not in page and "the visa card" not in page


def test_events_read_as_sentences_with_their_ids_behind_a_toggle(auth):
    event = WebhookEventFactory(type="invoice.payment_failed", object_id="in_test_words")
    client = login(auth, UserFactory(role=Role.ADMIN))
    for path in ("/admin/events", "/admin/"):
        page = client.get(path).get_data(as_text=True)
        if path == "/admin/" and "A payment failed" not in page:
            continue  # the home page lists only the events that need attention
        assert "A payment failed" in page
        toggles = "".join(re.findall(r"<details class=\"ids\">.*?</details>", page, re.S))
        for raw in (event.stripe_event_id, "invoice.payment_failed"):
            if raw in page:
                assert raw in toggles, f"{raw} outside the Stripe ids toggle on {path}"


def test_admin_home_links_say_where_they_go(auth):
    PracticeFactory(billing_status=BillingStatus.DONE)
    WebhookEventFactory()
    page = login(auth, UserFactory(role=Role.ADMIN)).get("/admin/").get_data(as_text=True)
    link_texts = [
        re.sub(r"<[^>]+>", "", text).strip() for text in re.findall(r"<a [^>]*>(.*?)</a>", page, re.S)
    ]
    assert [text for text in link_texts if text.isdigit()] == []
    assert any(re.fullmatch(r"\d+ practices? active", text) for text in link_texts), link_texts


def test_admin_invoice_statuses_are_the_billing_pages_badges(auth):
    practice = PracticeFactory(
        plan=Plan.MONTHLY, stripe_subscription_id="sub_w", subscription_status="active"
    )
    PracticeInvoiceFactory(practice=practice, status="open")
    page = (
        login(auth, UserFactory(role=Role.ADMIN))
        .get(f"/admin/practices/{practice.id}")
        .get_data(as_text=True)
    )
    assert 'class="badge badge-warn" data-invoice-status="open">Open</span>' in page
