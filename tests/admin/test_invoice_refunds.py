"""The admin's practice page refunds a paid invoice (a credit note at Stripe): admins only, another
practice's invoice 404, a double submit refunds once, and a huge, negative or non-numeric amount is
refused with a message under the field, the form kept as typed and nothing refunded."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import g

from portal.extensions import db
from portal.practices import members
from portal.practices.models import InvoiceRefund, PracticeInvoice
from portal.practices.status import BillingStatus
from portal.users.models import Role
from tests.conftest import extract_csrf
from tests.factories import make_user
from tests.practices.sandbox_helpers import Inbox, save_card, subscribe_directly


@pytest.fixture
def paid(app, runner, sandbox):
    """A practice subscribed at the sandbox (its first invoice paid: $598.00) and that invoice."""
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    owner = make_user(name="Olive Owner", email="olive@example.com")
    practice = members.create_practice(owner, "Refund Dental")
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.DONE
    invoice = db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.practice_id == practice.id))
    return practice, invoice


@pytest.fixture
def admin_client(auth, app):
    admin = make_user(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)
    assert auth.login(admin.email).status_code == 302
    g.pop("csrf_token", None)
    return auth.client


def _form(client, practice, invoice) -> dict:
    page = client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    prefix = f"refund-{invoice.id}"
    attempt = re.search(rf'id="{prefix}-attempt" name="{prefix}-attempt" type="hidden" value="([^"]+)"', page)
    drawn = re.search(rf'name="{prefix}-left_when_drawn" type="hidden" value="(\d+)"', page)
    assert attempt and drawn, page
    return {
        f"{prefix}-left_when_drawn": drawn.group(1),
        "csrf_token": extract_csrf(page),
        f"{prefix}-csrf_token": extract_csrf(page),
        f"{prefix}-attempt": attempt.group(1),
        f"{prefix}-reason": "order_change",
    }


def rows() -> list[InvoiceRefund]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(InvoiceRefund)))


def test_admin_refunds_part_of_an_invoice_once_for_a_double_submit(admin_client, paid):
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    form = {
        **_form(admin_client, practice, invoice),
        f"{prefix}-amount": "598",
        f"{prefix}-note": "Billed twice",
    }
    url = f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund"

    first = admin_client.post(url, data=form)
    second = admin_client.post(url, data=form)

    assert first.status_code == 303
    assert second.status_code == 303
    [row] = rows()
    assert row.amount == 59800
    page = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    assert f"Refunded $598.00 of invoice {invoice.number}." in page
    assert 'data-refunded="59800">Refunded $598.00</span>' in page  # the invoice row
    assert f"Refunded $598.00 of invoice {invoice.number}: Billed twice" in page  # History
    assert "No paid invoice has anything left to refund." in page


def test_a_partial_refund_leaves_the_rest_to_refund(admin_client, paid):
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    form = {
        **_form(admin_client, practice, invoice),
        f"{prefix}-amount": "120.5",
        f"{prefix}-note": "Goodwill",
    }
    answer = admin_client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund", data=form
    )
    assert answer.status_code == 303
    page = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    assert "Refunded $120.50 of $598.00" in page and "$477.50 of $598.00 left" in page


@pytest.mark.parametrize("amount", ["", "abc", "-5", "0", "0.001", "598.01", "1e3", "99999999999999999999"])
def test_bad_amounts_are_refused_with_the_form_kept(admin_client, paid, amount):
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    form = {
        **_form(admin_client, practice, invoice),
        f"{prefix}-amount": amount,
        f"{prefix}-note": "Kept as typed",
    }

    answer = admin_client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund", data=form
    )

    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Enter an amount between $0.01 and $598.00, like 25.00." in page and "Kept as typed" in page
    assert rows() == []


def test_another_practices_invoice_is_404_and_members_are_refused(admin_client, paid, auth):
    practice, invoice = paid
    other = members.create_practice(make_user(email="other@example.com"), "Elsewhere")
    form = _form(admin_client, practice, invoice)
    assert (
        admin_client.post(
            f"/admin/practices/{other.id}/invoices/{invoice.stripe_id}/refund", data=form
        ).status_code
        == 404
    )
    assert (
        admin_client.post(f"/admin/practices/{practice.id}/invoices/in_nope/refund", data=form).status_code
        == 404
    )

    auth.logout()
    owner = db.session.get(type(practice), practice.id)
    assert auth.login(members.owner_of(owner).email).status_code == 302
    g.pop("csrf_token", None)
    answer = auth.client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund", data=form
    )
    assert answer.status_code in (400, 403)
    assert rows() == []


def test_the_same_refund_form_posted_twice_at_once_answers_refunded_twice(admin_client, paid, monkeypatch):
    """The duplicate's first look for its attempt ran before the first post committed (it then waited
    on the invoice's lock): it still answers what the first post did, not a refusal."""
    from portal.practices import refunds

    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    form = {**_form(admin_client, practice, invoice), f"{prefix}-amount": "500", f"{prefix}-note": "Too much"}
    url = f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund"
    assert admin_client.post(url, data=form).status_code == 303
    admin_client.get(f"/admin/practices/{practice.id}")  # the first answer's message, read

    real = refunds.by_attempt
    looks = []

    def looked_before_the_first_committed(inv, attempt):
        looks.append(attempt)
        return None if len(looks) == 1 else real(inv, attempt)

    monkeypatch.setattr(refunds, "by_attempt", looked_before_the_first_committed)
    second = admin_client.post(url, data=form)
    assert second.status_code == 303, second.get_data(as_text=True)[:3000]
    page = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    assert f"Refunded $500.00 of invoice {invoice.number}." in page
    assert [row.amount for row in rows()] == [50000]


@pytest.mark.parametrize(
    ("currency", "most", "typed", "minor"),
    [
        ("vnd", 499000, "499,000", 499000),
        ("vnd", 499000, "25", 25),
        ("vnd", 499000, "25.00", None),  # a dong has no cents
        ("usd", 59800, "25.5", 2550),
        ("usd", 59800, "0.001", None),
        ("kwd", 10000, "1.250", 1250),
    ],
)
def test_the_refund_amount_is_read_in_the_currencys_own_digits(app, currency, most, typed, minor):
    from werkzeug.datastructures import MultiDict

    from portal.practices.forms import RefundInvoiceForm

    with app.test_request_context():
        data = MultiDict(
            {"amount": typed, "reason": "duplicate", "note": "Twice", "left_when_drawn": str(most)}
        )
        form = RefundInvoiceForm(formdata=data, meta={"csrf": False}, most=most, currency=currency)
        assert form.validate() is (minor is not None), form.errors
        if minor is None:
            [message] = form.errors["amount"]
            if currency == "vnd":
                assert message == "Enter an amount between ₫1 and ₫499,000, like 25."
        else:
            assert form.minor_amount == minor


def test_a_tab_drawn_before_another_refund_refunds_nothing(admin_client, paid):
    """Two tabs drawn when $598.00 was left: the first refunds $100; the second, still showing
    $598.00, is refused with what changed (the admin decided on a figure no longer true)."""
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    url = f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund"
    first_tab, second_tab = _form(admin_client, practice, invoice), _form(admin_client, practice, invoice)
    typed = {f"{prefix}-amount": "100", f"{prefix}-note": "Goodwill"}
    assert admin_client.post(url, data={**first_tab, **typed}).status_code == 303

    stale = admin_client.post(url, data={**second_tab, **typed})

    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert (
        f"Since this page was drawn, $100.00 of invoice {invoice.number} was refunded; $498.00 is left. "
        "Nothing was refunded now" in page
    )
    assert [row.amount for row in rows()] == [10000]
    # The page it answers is drawn for today's figure: sent again as the admin now sees it, it refunds.
    drawn = re.search(rf'name="{prefix}-left_when_drawn" type="hidden" value="(\d+)"', page)
    assert drawn.group(1) == "49800"
    again = admin_client.post(url, data={**second_tab, **typed, f"{prefix}-left_when_drawn": "49800"})
    assert again.status_code == 303
    assert sorted(row.amount for row in rows()) == [10000, 10000]


def test_a_form_without_what_was_left_is_refused(admin_client, paid):
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    form = {**_form(admin_client, practice, invoice), f"{prefix}-amount": "10", f"{prefix}-note": "x"}
    del form[f"{prefix}-left_when_drawn"]

    answer = admin_client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund", data=form
    )

    assert answer.status_code == 422
    assert "This form has expired. Reload the page and try again." in answer.get_data(as_text=True)
    assert rows() == []


VI = {"Accept-Language": "vi-VN,vi;q=0.9"}


def test_an_amount_is_read_in_the_pages_language(admin_client, paid):
    """The Vietnamese page writes "598,00 US$" and takes "1,50" as one dollar fifty (not $150.00, the
    comma dropped); its form is drawn in the same writing ("598,00"), so sent unchanged it refunds all."""
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    url = f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund"
    page = admin_client.get(f"/admin/practices/{practice.id}", headers=VI).get_data(as_text=True)
    assert f'name="{prefix}-amount" type="text" value="598,00"' in page
    assert "25,00" in page  # the hint's example, as this page writes amounts
    form = {
        **_form(admin_client, practice, invoice),
        f"{prefix}-amount": "1,50",
        f"{prefix}-note": "Một đô rưỡi",
    }

    answer = admin_client.post(url, data=form, headers=VI)

    assert answer.status_code == 303
    assert [row.amount for row in rows()] == [150]
    form = {
        **_form(admin_client, practice, invoice),
        f"{prefix}-amount": "596,50",
        f"{prefix}-note": "Phần còn lại",
    }
    assert admin_client.post(url, data=form, headers=VI).status_code == 303
    assert sorted(row.amount for row in rows()) == [150, 59650]


@pytest.mark.parametrize(
    ("headers", "typed", "words"),
    [
        ({}, "1,50", "Write it like 1,234.56: “,” between thousands, “.” before the decimals."),
        ({}, "25,5", "Write it like 1,234.56"),
        ({}, "1.234,5", "Write it like 1,234.56"),
        (VI, "1.50", "viết như 1.234,56"),
        (VI, "1e3", "598,00\xa0US$"),
        (VI, "\uff10\uff13", "598,00\xa0US$"),
    ],
)
def test_an_amount_the_pages_language_does_not_write_so_is_refused(admin_client, paid, headers, typed, words):
    """Never a guess: a comma where English has no thousands, a point the Vietnamese page would not
    write, an exponent or full-width digits are refused under the field; nothing is refunded."""
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    form = {**_form(admin_client, practice, invoice), f"{prefix}-amount": typed, f"{prefix}-note": "Kept"}

    answer = admin_client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund", data=form, headers=headers
    )

    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert words in page and f'value="{typed}"' in page
    assert rows() == []


def test_another_invoices_form_key_is_refused_in_words(admin_client, paid):
    """The form's key is one another invoice's refund used (a forged or mixed-up form): this invoice
    is not refunded and the page says why (not a 422 with no message)."""
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    form = {**_form(admin_client, practice, invoice), f"{prefix}-amount": "10", f"{prefix}-note": "x"}
    other_key = "K" * 24
    db.session.add(
        InvoiceRefund(
            practice_id=practice.id,
            invoice_id="in_another_one",
            stripe_refund_id="re_another_one",
            amount=500,
            currency="usd",
            status="succeeded",
            attempt_key=other_key,
        )
    )
    db.session.commit()

    answer = admin_client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund",
        data={**form, f"{prefix}-attempt": other_key},
    )

    assert answer.status_code == 422
    assert "This form has expired. Reload the page and try again." in answer.get_data(as_text=True)
    assert [row.invoice_id for row in rows()] == ["in_another_one"]


def test_a_forged_figure_left_states_no_refund_that_never_happened(admin_client, paid):
    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    form = {**_form(admin_client, practice, invoice), f"{prefix}-amount": "10", f"{prefix}-note": "x"}

    answer = admin_client.post(
        f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund",
        data={**form, f"{prefix}-left_when_drawn": "99999"},
    )

    assert answer.status_code == 409
    page = answer.get_data(as_text=True)
    assert (
        f"The amount left to refund of invoice {invoice.number} changed since this page was drawn: "
        "$598.00 is left. Nothing was refunded now" in page
    )
    assert "was refunded;" not in page
    assert rows() == []


def test_history_says_a_refund_in_its_readers_language(admin_client, paid):
    """A refund made on the Vietnamese page is kept as an amount, not as the writer's text: an English
    reader of History reads "$1.50", a Vietnamese one "1,50 US$"; a line stored formatted before
    (an older row) still reads as it was written."""
    from portal.practices import audit

    practice, invoice = paid
    prefix = f"refund-{invoice.id}"
    url = f"/admin/practices/{practice.id}/invoices/{invoice.stripe_id}/refund"
    form = {
        **_form(admin_client, practice, invoice),
        f"{prefix}-amount": "1,50",
        f"{prefix}-note": "Một đô rưỡi",
    }
    assert admin_client.post(url, data=form, headers=VI).status_code == 303
    admin_client.get(f"/admin/practices/{practice.id}", headers=VI)  # the answer's message, read there
    audit.record(
        db.session.get(type(practice), practice.id),
        "invoice_refunded",
        "$7.00 of invoice OLD-1, re_old1: Old",
    )
    db.session.commit()

    english = admin_client.get(f"/admin/practices/{practice.id}").get_data(as_text=True)
    vietnamese = admin_client.get(f"/admin/practices/{practice.id}", headers=VI).get_data(as_text=True)

    assert f"Refunded $1.50 of invoice {invoice.number}: Một đô rưỡi" in english
    assert "1,50" not in english
    assert f"1,50\xa0US$ of invoice {invoice.number}: Một đô rưỡi" in vietnamese
    assert "Refunded $7.00 of invoice OLD-1: Old" in english
