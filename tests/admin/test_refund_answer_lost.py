"""A refund whose request reached Stripe and whose answer was lost (Stripe slow): never "try again".
The page says Stripe may have made it and that nothing will be refunded twice; the invoice takes no
other refund until Stripe's answer is known; reloading the page learns it (the credit note Stripe made
is adopted, one row, one refund), and a form drawn meanwhile refunds nothing more."""

# ruff: noqa: F811 (the fixtures are imported from the suites they extend)
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.practices import refunds
from portal.practices.models import InvoiceRefund, PracticeInvoice
from tests.admin.test_invoice_refunds import _form, admin_client, paid  # noqa: F401

READ_TIMEOUT = 0.4


@pytest.fixture
def app_overrides() -> dict:
    return {
        "STRIPE_CONNECT_TIMEOUT_SECONDS": 1,
        "STRIPE_READ_TIMEOUT_SECONDS": READ_TIMEOUT,
        "STRIPE_ACTION_BUDGET_SECONDS": 3,
    }


@pytest.fixture
def slow_sandbox(sandbox):
    yield sandbox
    sandbox.set_latency(0)


def _credit_notes(sandbox, invoice_id: str) -> list:
    return sandbox.client().v1.credit_notes.list({"invoice": invoice_id}).data


def _wait_for_credit_note(sandbox, invoice_id: str) -> None:
    deadline = time.monotonic() + 10
    while not _credit_notes(sandbox, invoice_id):
        assert time.monotonic() < deadline, "the sandbox never made the credit note"
        time.sleep(0.1)


def _post(client, practice, invoice, amount: str):
    prefix = f"refund-{invoice.id}"
    form = {**_form(client, practice, invoice), f"{prefix}-amount": amount, f"{prefix}-note": "Goodwill"}
    url = f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund"
    return form, client.post(url, data=form)


def test_a_lost_refund_answer_is_never_try_again_and_a_reload_refunds_once(admin_client, paid, slow_sandbox):
    practice, invoice = paid
    slow_sandbox.set_latency(1500)  # Stripe makes the credit note after the portal stopped waiting
    _, answer = _post(admin_client, practice, invoice, "10")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 202
    assert "Stripe may have made the refund; we are checking" in text
    assert "Nothing will be refunded twice" in text and "try again" not in text.lower()
    slow_sandbox.set_latency(0)
    _wait_for_credit_note(slow_sandbox, invoice.stripe_id)

    # The admin reloads (a new form, a new key) and asks the same again: the page learns the first.
    page = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    assert "Refunded $10.00 of $598.00" in page and "$588.00 of $598.00 left" in page
    _, again = _post(admin_client, practice, invoice, "10")
    assert again.status_code == 303  # a refund the admin asks for knowing the first was made
    assert len(_credit_notes(slow_sandbox, invoice.stripe_id)) == 2


def test_a_form_drawn_while_a_refund_is_unknown_refunds_nothing_more(app, admin_client, paid, slow_sandbox):
    practice, invoice = paid
    stale_form = _form(admin_client, practice, invoice)  # drawn before the lost answer
    slow_sandbox.set_latency(1500)
    _, answer = _post(admin_client, practice, invoice, "10")
    assert answer.status_code == 202
    with slow_sandbox.outage():  # still no answer: the invoice shows the refund being checked
        page = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    assert "Stripe has not answered yet: we are checking. Nothing will be refunded twice" in page
    slow_sandbox.set_latency(0)
    _wait_for_credit_note(slow_sandbox, invoice.stripe_id)

    prefix = f"refund-{invoice.id}"
    retry = admin_client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund",
        data={**stale_form, f"{prefix}-amount": "10", f"{prefix}-note": "Goodwill"},
    )
    text = retry.get_data(as_text=True)
    assert retry.status_code == 409
    assert "Stripe made the earlier refund of $10.00" in text and "Nothing more was refunded" in text
    assert len(_credit_notes(slow_sandbox, invoice.stripe_id)) == 1
    db.session.expire_all()
    [row] = db.session.scalars(sa.select(InvoiceRefund)).all()
    assert row.amount == 1000 and row.refunded_by_id is not None
    assert db.session.get(PracticeInvoice, invoice.id).pending_refund is None
    assert refunds.left_to_refund(db.session.get(PracticeInvoice, invoice.id)) == 58800


def test_the_same_form_posted_again_answers_the_refund_stripe_made(admin_client, paid, slow_sandbox):
    practice, invoice = paid
    slow_sandbox.set_latency(1500)
    form, answer = _post(admin_client, practice, invoice, "25")
    assert answer.status_code == 202
    slow_sandbox.set_latency(0)
    _wait_for_credit_note(slow_sandbox, invoice.stripe_id)
    again = admin_client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund", data=form
    )
    assert again.status_code == 303
    page = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    assert f"Refunded $25.00 of invoice {invoice.number}." in page
    assert len(_credit_notes(slow_sandbox, invoice.stripe_id)) == 1


def test_a_refund_stripe_never_got_says_nothing_was_refunded(admin_client, paid, sandbox):
    practice, invoice = paid
    with sandbox.outage(refuse=True):
        _, answer = _post(admin_client, practice, invoice, "10")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 503
    assert "Stripe could not be reached, so nothing was refunded." in text
    assert "nothing was charged" not in text
    db.session.expire_all()
    assert db.session.get(PracticeInvoice, invoice.id).pending_refund is None  # nothing to check


def test_the_admin_page_writes_an_invoice_amount_as_the_billing_page_does(admin_client, paid):
    """F11: its discount and the credit that paid it, not a bare "$0.00"."""
    practice, invoice = paid
    row = db.session.get(PracticeInvoice, invoice.id)
    row.discount_amount, row.credit_applied = 2475, 7425
    db.session.commit()
    page = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    assert "after a $24.75 discount" in page and "after $74.25 of credit" in page
