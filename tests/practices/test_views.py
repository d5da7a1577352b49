"""The practice pages through HTTP: forms, permissions, HTMX fragments, Checkout through the sandbox."""

from __future__ import annotations

import re

import pytest
import requests
from flask import current_app

from portal.extensions import db
from portal.practices import checkout as practice_checkout
from portal.practices import history as practice_history
from portal.practices import members
from portal.practices.models import MemberRole, Plan
from portal.practices.status import BillingStatus
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login
from tests.practices.sandbox_helpers import CHECKOUT_ADDRESS
from tests.practices.test_mirror import subscribed
from tests.stripe_payloads import T0

HX = {"HX-Request": "true"}


@pytest.fixture
def live_practice(owner, plans):
    """A practice whose customer exists in the sandbox."""
    return members.create_practice(owner, "Harbour Dental")


def csrf(client, path="/practices/"):
    return extract_csrf(client.get(path).get_data(as_text=True))


def create_through_form(client, name="Harbour Dental"):
    response = client.post("/practices/", data={"name": name, "csrf_token": csrf(client)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def test_create_practice_makes_the_user_owner_with_a_customer(owner_client, owner):
    response = create_through_form(owner_client)
    [(practice, _)] = members.practices_for(owner)
    assert response.location.endswith(f"/practices/{practice.id}/billing")
    assert practice.stripe_customer_id  # created in the sandbox with metadata practiceId
    assert members.membership(practice, owner).role == MemberRole.OWNER
    page = owner_client.get(response.location).get_data(as_text=True)
    assert "Choose a plan" in page and 'data-banner="billing_required"' in page


def test_create_requires_a_name(owner_client):
    response = owner_client.post("/practices/", data={"name": "", "csrf_token": csrf(owner_client)})
    assert response.status_code == 422
    assert "Name the practice." in response.get_data(as_text=True)


def test_billing_page_makes_no_stripe_call(owner_client, practice):
    subscribed(practice)
    counter = current_app.extensions["stripe_call_counter"]
    with counter.watch() as calls:
        page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
        owner_client.get("/account")
    assert calls == []
    assert "Monthly" in page and "Next renewal" in page and "PB-0001" in page
    assert "Cancel at period end" in page


def test_banner_on_every_page_for_members(owner_client, practice):
    page = owner_client.get("/account").get_data(as_text=True)
    assert 'data-banner="billing_required"' in page


def test_members_see_status_but_cannot_manage(client, auth, practice, owner, user_factory):
    subscribed(practice)
    member = user_factory(name="Mo Member")
    add_member(practice, member, MemberRole.MEMBER)
    login(auth, member)
    page = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Active" in page and "Only the practice's owner and admins" in page
    assert "Cancel at period end" not in page and "Practice cards" not in page
    token = extract_csrf(page)
    response = client.post(
        f"/practices/{practice.id}/billing/cancel", data={"reason": "x", "csrf_token": token}
    )
    assert response.status_code == 403


def test_outsiders_get_404(client, auth, practice, user_factory):
    stranger = user_factory()
    login(auth, stranger)
    assert client.get(f"/practices/{practice.id}/billing").status_code == 404


def test_invoice_history_is_paginated_five_at_a_time(owner_client, practice):
    from portal.practices.invoice_mirror import apply_invoice
    from tests import stripe_payloads as p

    subscribed(practice)
    for n in range(7):
        inv = p.invoice(
            practice.id, practice.stripe_customer_id, id=f"in_{n}", number=f"PB-{n:04d}", created=T0 + n
        )
        apply_invoice(inv, T0 + n, "invoice.paid")
    db.session.commit()
    first = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Page 1" in first and "PB-0006" in first and "PB-0002" in first and "PB-0001" not in first
    assert ">Older</a>" in first and ">Newer</a>" not in first
    second = owner_client.get(f"/practices/{practice.id}/billing/invoices?page=2", headers=HX).get_data(
        as_text=True
    )
    assert second.lstrip().startswith("<section") and "PB-0000" in second and "PB-0002" not in second
    assert ">Newer</a>" in second and ">Older</a>" not in second  # nothing older than the last page


def pay_checkout(sandbox_url_or_location: str, number: str = "4242424242424242") -> str:
    """Pay a Checkout session on the sandbox's hosted page; returns the success URL it redirects to."""
    response = requests.post(
        sandbox_url_or_location + "/pay",
        data={
            "number": number,
            "expiry": "12 / 2034",
            "cvc": "123",
            "name": "Olive Owner",
            **CHECKOUT_ADDRESS,
        },
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, response.text[:500]
    return response.headers["Location"]


def version_of(page: str) -> str:
    """The billing version the page's forms were drawn from (each billing form carries it)."""
    return re.search(r'name="billing_version" value="(\d+)"', page).group(1)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_subscribe_through_checkout(owner_client, live_practice, owner, sandbox):
    page = owner_client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    token = csrf(owner_client, f"/practices/{live_practice.id}/billing")
    attempt = re.search(r'name="attempt" value="([^"]+)"', page).group(1)
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={
            "plan": "monthly",
            "csrf_token": token,
            "attempt": attempt,
            "billing_version": version_of(page),
        },
    )
    assert response.status_code == 303
    checkout_url = response.location
    assert checkout_url.startswith(sandbox.url + "/checkout/cs_test_")
    # A double click (the same rendered form): the same session, not a second one.
    again = owner_client.post(
        f"/practices/{live_practice.id}/billing/subscribe",
        data={
            "plan": "monthly",
            "csrf_token": token,
            "attempt": attempt,
            "billing_version": version_of(page),
        },
        headers=HX,
    )
    assert again.status_code == 204 and again.headers["HX-Redirect"] == checkout_url

    success = pay_checkout(checkout_url)
    assert f"/practices/{live_practice.id}/billing/checkout/return?session_id=cs_" in success
    page = owner_client.get(path_of(success), follow_redirects=True).get_data(as_text=True)
    db.session.refresh(live_practice)
    assert live_practice.billing_status == BillingStatus.DONE
    assert live_practice.plan == Plan.MONTHLY and live_practice.onboarding_paid_at is not None
    assert 'data-billing-status="DONE"' in page
    assert "visa" in page.lower() and "Default" in page  # the card paid with is in the live_practice wallet
    assert "data-banner" not in page
    invoice = practice_history.invoice_by_id(live_practice.latest_invoice_id)
    assert (
        invoice.amount_paid
        == current_app.config["BILLING_MONTHLY_PRICE"] + current_app.config["BILLING_ONBOARDING_FEE"]
    )
    # The webhook's fulfilment afterwards is a no-op.
    from portal.practices.checkout_mirror import fulfil_checkout_session

    entries = len(practice_history.audit_page(live_practice, per_page=1000).items)
    fulfil_checkout_session(
        {
            "id": live_practice.checkout_session_id,
            "mode": "subscription",
            "status": "complete",
            "payment_status": "paid",
            "customer": live_practice.stripe_customer_id,
            "subscription": live_practice.stripe_subscription_id,
            "metadata": {"practiceId": str(live_practice.id), "onboarding": "1"},
        },
        T0,
    )
    db.session.commit()
    assert len(practice_history.audit_page(live_practice, per_page=1000).items) == entries


def test_processing_then_confirmed_by_polling(owner_client, live_practice, owner):
    url = practice_checkout.start_checkout(live_practice, Plan.SEMIANNUAL, owner)
    # Back on the portal before Stripe confirmed the payment.
    live_practice.checkout_session_id = url.rsplit("/", 1)[-1]
    db.session.commit()
    page = owner_client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    assert "Processing your payment" in page and 'hx-trigger="every 2s"' in page
    poll = f"/practices/{live_practice.id}/billing/status"
    assert f'hx-post="{poll}"' in page  # a manager's poll may ask Stripe: a POST
    headers = {**HX, "X-CSRFToken": extract_csrf(page)}
    fragment = owner_client.post(poll, headers=headers).get_data(as_text=True)
    assert "Processing your payment" in fragment

    pay_checkout(url)
    fragment = owner_client.post(poll, headers=headers).get_data(as_text=True)
    assert "Payment confirmed" in fragment and 'hx-trigger="every 2s"' not in fragment
    assert 'id="banners" hx-swap-oob="true"' in fragment
    db.session.refresh(live_practice)
    assert live_practice.billing_status == BillingStatus.DONE and live_practice.plan == Plan.SEMIANNUAL


def test_the_status_poll_by_get_reads_the_mirror_and_plain_members_cannot_refresh(
    auth, live_practice, owner, user_factory
):
    """GET /billing/status neither calls Stripe nor writes; the refreshing poll is a managers' POST."""
    url = practice_checkout.start_checkout(live_practice, Plan.MONTHLY, owner)
    live_practice.checkout_session_id = url.rsplit("/", 1)[-1]
    db.session.commit()
    pay_checkout(url)
    mo = user_factory()
    add_member(live_practice, mo, MemberRole.MEMBER)
    client = login(auth, mo)
    page = client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    poll = f"/practices/{live_practice.id}/billing/status"
    assert f'hx-get="{poll}"' in page
    with current_app.extensions["stripe_call_counter"].watch() as calls:
        fragment = client.get(poll, headers=HX).get_data(as_text=True)
        refused = client.post(poll, headers={**HX, "X-CSRFToken": extract_csrf(page)})
    assert calls == []
    assert "Processing your payment" in fragment  # still as the mirror says until the webhook comes
    assert refused.status_code == 200 and refused.headers["HX-Retarget"] == "#flashes"
    db.session.refresh(live_practice)
    assert live_practice.billing_status == BillingStatus.REQUIRED


def test_cancel_with_reason_through_htmx_then_resume(owner_client, live_practice, owner):
    url = practice_checkout.start_checkout(live_practice, Plan.MONTHLY, owner)
    owner_client.get(path_of(pay_checkout(url)))
    page = owner_client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    token = extract_csrf(page)
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/cancel",
        data={
            "reason": "Too expensive",
            "csrf_token": token,
            "attempt": "a1",
            "billing_version": version_of(page),
        },
        headers=HX,
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Resume subscription" in fragment and 'data-banner="cancellation_scheduled"' in fragment
    db.session.refresh(live_practice)
    assert live_practice.cancel_at_period_end or live_practice.cancel_at
    assert live_practice.cancellation_reason == "Too expensive"
    page = owner_client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    assert "Reason given" in page and "Too expensive" in page
    history = owner_client.get(f"/practices/{live_practice.id}/history").get_data(as_text=True)
    assert "Cancellation asked for. Reason: Too expensive" in history

    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/resume",
        data={"csrf_token": token, "billing_version": version_of(fragment)},
    )
    assert response.status_code == 303
    db.session.refresh(live_practice)
    assert not live_practice.cancel_at_period_end and live_practice.cancel_at is None


def test_plan_switch_preview_then_confirm(owner_client, live_practice, owner):
    url = practice_checkout.start_checkout(live_practice, Plan.MONTHLY, owner)
    owner_client.get(path_of(pay_checkout(url)))
    token = csrf(owner_client, f"/practices/{live_practice.id}/billing")
    preview = owner_client.post(
        f"/practices/{live_practice.id}/billing/plan/preview",
        data={"plan": "semiannual", "csrf_token": token},
        headers=HX,
    ).get_data(as_text=True)
    assert "Confirm switch" in preview
    amount = int(re.search(r'data-preview-amount="(-?\d+)"', preview).group(1))
    proration_date = re.search(r'name="proration_date" value="([^"]+)"', preview).group(1)
    response = owner_client.post(
        f"/practices/{live_practice.id}/billing/plan",
        data={
            "plan": "semiannual",
            "proration_date": proration_date,
            "csrf_token": token,
            "billing_version": version_of(preview),
        },
        headers=HX,
    )
    assert "Every 6 months plan" in response.get_data(as_text=True)
    db.session.refresh(live_practice)
    assert live_practice.plan == Plan.SEMIANNUAL
    assert practice_history.invoice_by_id(live_practice.latest_invoice_id).amount_paid == amount


def test_subscribe_again_after_cancellation_without_a_second_onboarding_fee(
    owner_client, live_practice, owner, sandbox
):
    from portal.practices.mirror import apply_subscription

    first_url = practice_checkout.start_checkout(live_practice, Plan.MONTHLY, owner)
    owner_client.get(path_of(pay_checkout(first_url)))
    ended = sandbox.client().v1.subscriptions.cancel(live_practice.stripe_subscription_id)
    apply_subscription(ended, sandbox.now())  # customer.subscription.deleted
    db.session.commit()
    assert live_practice.billing_status == BillingStatus.CANCELLED
    page = owner_client.get(f"/practices/{live_practice.id}/billing").get_data(as_text=True)
    assert 'data-banner="cancelled"' in page and "Subscribe again" in page
    assert "onboarding fee of" not in page

    second_url = practice_checkout.start_checkout(live_practice, Plan.MONTHLY, owner)
    assert second_url != first_url
    owner_client.get(path_of(pay_checkout(second_url)))
    db.session.refresh(live_practice)
    assert live_practice.billing_status == BillingStatus.DONE
    assert live_practice.stripe_subscription_id != ended.id
    invoice = practice_history.invoice_by_id(live_practice.latest_invoice_id)
    assert invoice.amount_paid == current_app.config["BILLING_MONTHLY_PRICE"]


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "Please tell us why you are cancelling."), ("x" * 501, "Field cannot be longer than 500")],
)
def test_a_refused_cancel_keeps_the_form_open_with_what_was_typed(owner_client, practice, reason, message):
    subscribed(practice)
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert '<details class="cancel">' in page  # closed until it is needed
    response = owner_client.post(
        f"/practices/{practice.id}/billing/cancel",
        data={
            "reason": reason,
            "csrf_token": extract_csrf(page),
            "attempt": "a1",
            "billing_version": version_of(page),
        },
        headers=HX,
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<details class="cancel" open>' in fragment and message in fragment
    assert f">{reason}</textarea>" in fragment
    db.session.refresh(practice)
    assert not practice.cancel_at_period_end and practice.cancel_at is None


def test_pay_now_is_offered_only_when_a_renewal_is_overdue(owner_client, practice):
    from portal.practices.invoice_mirror import apply_invoice
    from portal.practices.mirror import apply_subscription
    from tests import stripe_payloads as p

    subscribed(practice)
    renewal = T0 + 30 * 86_400
    due = p.invoice(practice.id, practice.stripe_customer_id, id="in_renew", status="open", created=renewal)
    apply_invoice(due, renewal, "invoice.finalized")
    db.session.commit()
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Pay $" not in page  # Stripe is about to charge it by itself

    apply_invoice(p.with_payment_error(due), renewal, "invoice.payment_failed")
    apply_subscription(
        p.subscription(practice.id, practice.stripe_customer_id, status="past_due", period_start=renewal),
        renewal,
    )
    db.session.commit()
    assert practice.billing_status == BillingStatus.PAST_DUE
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "Pay $99.00 now" in page


def test_access_while_a_renewal_waits_for_the_bank_says_so_not_that_stripe_retries(owner_client, practice):
    from portal.practices.invoice_mirror import apply_invoice
    from portal.practices.mirror import apply_subscription
    from tests import stripe_payloads as p

    subscribed(practice)
    renewal = T0 + 30 * 86_400
    due = p.invoice(practice.id, practice.stripe_customer_id, id="in_renew", status="open", created=renewal)
    apply_invoice(due, renewal, "invoice.payment_action_required")
    apply_subscription(
        p.subscription(practice.id, practice.stripe_customer_id, status="past_due", period_start=renewal),
        renewal,
    )
    db.session.commit()
    access = re.compile(r'data-access="yes">(.*?)</dd>', re.S)
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert access.search(page)[1] == "Yes, while the payment waits for the bank's confirmation"

    apply_invoice(p.with_payment_error(due), renewal + 60, "invoice.payment_failed")
    practice.action_required_invoice_id = None  # a decline after the check: nothing waits for the bank
    db.session.commit()
    page = owner_client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert access.search(page)[1] == "Yes, while Stripe retries the payment"
