"""Several open invoices (renewals that failed, invoices Stripe left open): each row has its own Pay,
acting once per form like Pay now, and the page and banner say how many are open and their total
while any are."""

from __future__ import annotations

import re

from portal.extensions import db
from portal.formatting import format_money
from portal.practices import history
from portal.practices.status import BillingStatus
from tests.conftest import extract_csrf
from tests.practices.conftest import login
from tests.practices.test_pay_now_once import audit_count, past_due_practice

HX = {"HX-Request": "true"}


def open_invoice_on_the_subscription(sandbox, practice, amount: int) -> str:
    """One more invoice of the subscription, finalized and left open (as a failed renewal is)."""
    client = sandbox.client()
    sub = practice.stripe_subscription_id
    customer = practice.stripe_customer_id
    client.v1.invoice_items.create(
        {"customer": customer, "subscription": sub, "amount": amount, "currency": "usd"}
    )
    invoice = client.v1.invoices.create(
        {"customer": customer, "subscription": sub, "pending_invoice_items_behavior": "include"}
    )
    return client.v1.invoices.finalize_invoice(invoice.id).id


def row_forms(page: str) -> dict[str, dict[str, str]]:
    """Each invoice row's Pay form: invoice id -> its fields."""
    forms = {}
    for form in re.findall(r"<form[^>]*/billing/pay.*?</form>", page, re.S):
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
        if "invoice" in fields:
            forms[fields["invoice"]] = fields
    return forms


def test_each_open_invoice_is_paid_from_its_row_and_the_rest_are_counted(app, sandbox, owner, runner, auth):
    practice, inbox = past_due_practice(sandbox, owner, runner)
    for amount in (1000, 2000):
        open_invoice_on_the_subscription(sandbox, practice, amount)
    inbox.deliver()
    assert history.open_invoices(practice).count == 3
    client = login(auth, owner)
    billing = f"/practices/{practice.id}/billing"
    page = client.get(billing).get_data(as_text=True)
    assert "3 invoices are still open" in page
    forms = row_forms(page)
    assert len(forms) == 3

    # "Pay now" pays the newest; the page and the banner still count the two left.
    newest = history.open_invoice(practice).stripe_id
    response = client.post(f"{billing}/pay", data=forms[newest], headers=HX)
    assert "Invoice paid. Thank you!" in response.get_data(as_text=True)
    inbox.deliver()
    db.session.refresh(practice)
    page = client.get(billing).get_data(as_text=True)
    left = set(forms) - {newest}
    total = sum(history.invoice_by_id(invoice_id).amount_due for invoice_id in left)
    assert f"2 invoices are still open: {format_money(total, 'usd')} in all." in page
    assert 'data-banner="invoices_open"' in page or 'data-banner="payment_failed"' in page
    assert set(row_forms(page)) == left

    # Each row pays its own invoice, once however often its form is posted.
    for invoice_id in sorted(left):
        fields = row_forms(client.get(billing).get_data(as_text=True))[invoice_id]
        for _ in range(2):
            answer = client.post(f"{billing}/pay", data=fields, headers=HX).get_data(as_text=True)
            assert "Invoice paid. Thank you!" in answer
        assert history.invoice_by_id(invoice_id).status == "paid"
    assert audit_count(practice, "paid_now") == 3
    inbox.deliver()
    db.session.refresh(practice)
    page = client.get(billing).get_data(as_text=True)
    assert "still open" not in page and "data-banner=" not in page
    assert practice.billing_status == BillingStatus.DONE


def test_a_row_cannot_pay_another_practices_invoice(app, sandbox, owner, runner, auth):
    practice, _ = past_due_practice(sandbox, owner, runner)
    client = login(auth, owner)
    billing = f"/practices/{practice.id}/billing"
    page = client.get(billing).get_data(as_text=True)
    fields = {"csrf_token": extract_csrf(page), **next(iter(row_forms(page).values()))}
    fields["invoice"] = "in_not_ours"
    answer = client.post(f"{billing}/pay", data=fields, headers=HX).get_data(as_text=True)
    assert "There is no open invoice to pay." in answer
