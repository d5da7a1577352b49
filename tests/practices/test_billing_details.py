"""A practice's billing details through the billing page, round-tripped to its Stripe customer in
the sandbox: saved there first (email, name, address, tax ID objects), then locally; Stripe's
``tax_id_invalid`` in words under the field; members read only; Stripe down loses nothing; and the
first Checkout's address and tax ID come back into the details and onto the invoice."""

from __future__ import annotations

import re

import pytest
import requests

from portal.extensions import db
from portal.practices import checkout as practice_checkout
from portal.practices import members
from portal.practices.models import MemberRole, Plan, PracticeInvoice
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login
from tests.practices.sandbox_helpers import CHECKOUT_ADDRESS
from tests.practices.test_views import HX, path_of
from tests.reliability.live import forms_of

DETAILS = {
    "billing_email": "accounts@harbour-dental.com",
    "legal_name": "Harbour Dental Co., Ltd.",
    "address_line1": "12 Nguyen Hue",
    "address_line2": "Floor 3",
    "address_city": "Ho Chi Minh City",
    "address_state": "",
    "address_postal_code": "700000",
    "address_country": "VN",
    "tax_id_type": "vn_tin",
    "tax_id_value": "1234567890",
}


@pytest.fixture
def live_practice(owner, runner):
    """A practice whose customer exists in the sandbox (and the plans, for its Checkout)."""
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    return members.create_practice(owner, "Harbour Dental")


def billing_page(client, practice) -> str:
    return client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)


def details_form(html: str) -> dict[str, str]:
    """The billing details form's hidden fields as drawn: CSRF, its once-only key, its version."""
    [fields] = [fields for action, fields in forms_of(html) if action.endswith("/billing/details")]
    return {name: fields[name] for name in ("csrf_token", "attempt", "details_version")}


def post_details(client, practice, headers=None, **fields):
    data = {**details_form(billing_page(client, practice)), **DETAILS, **fields}
    return client.post(f"/practices/{practice.id}/billing/details", data=data, headers=headers or {})


def at_stripe(sandbox, practice):
    client = sandbox.client()
    customer = client.v1.customers.retrieve(practice.stripe_customer_id)
    tax_ids = client.v1.customers.tax_ids.list(practice.stripe_customer_id).data
    return customer, [(t.type, t.value) for t in tax_ids]


def test_saved_details_reach_the_stripe_customer_and_the_page(owner_client, live_practice, sandbox):
    response = post_details(owner_client, live_practice)
    assert response.status_code == 303

    customer, tax_ids = at_stripe(sandbox, live_practice)
    assert (customer.email, customer.name) == ("accounts@harbour-dental.com", "Harbour Dental Co., Ltd.")
    assert customer.address.line1 == "12 Nguyen Hue" and customer.address.line2 == "Floor 3"
    assert (customer.address.city, customer.address.postal_code, customer.address.country) == (
        "Ho Chi Minh City",
        "700000",
        "VN",
    )
    assert customer.address.state is None
    assert tax_ids == [("vn_tin", "1234567890")]

    db.session.refresh(live_practice)
    assert live_practice.billing_email == "accounts@harbour-dental.com"
    assert live_practice.address_country == "VN" and live_practice.address_state is None
    [row] = live_practice.tax_ids
    assert (row.type, row.value, row.verification_status) == ("vn_tin", "1234567890", "unavailable")
    assert row.stripe_id.startswith("txi_")
    page = billing_page(owner_client, live_practice)
    assert "Billing details saved." in page
    assert 'value="Harbour Dental Co., Ltd."' in page and "Remove Vietnam tax ID (MST)" in page


def test_a_tax_id_is_changed_by_removing_one_and_adding_another(owner_client, live_practice, sandbox):
    assert post_details(owner_client, live_practice).status_code == 303
    db.session.refresh(live_practice)
    [old] = live_practice.tax_ids

    swapped = post_details(
        owner_client,
        live_practice,
        HX,
        remove_tax_id=str(old.id),
        tax_id_type="eu_vat",
        tax_id_value="DE123456789",
    )
    assert swapped.status_code == 200
    fragment = swapped.get_data(as_text=True)
    assert fragment.lstrip().startswith("<section") and 'id="billing-details"' in fragment
    assert "Remove EU VAT number" in fragment and "1234567890" not in fragment
    assert at_stripe(sandbox, live_practice)[1] == [("eu_vat", "DE123456789")]
    db.session.refresh(live_practice)
    assert [(t.type, t.value, t.verification_status) for t in live_practice.tax_ids] == [
        ("eu_vat", "DE123456789", "pending")  # Stripe checks an EU VAT number with the register
    ]

    [vat] = live_practice.tax_ids
    cleared = post_details(
        owner_client, live_practice, HX, remove_tax_id=str(vat.id), tax_id_value="", billing_email=""
    )
    assert cleared.status_code == 200
    customer, tax_ids = at_stripe(sandbox, live_practice)
    assert tax_ids == [] and customer.email == live_practice.members[0].user.email  # back to the owner's
    db.session.refresh(live_practice)
    assert live_practice.tax_ids == [] and live_practice.billing_email is None


def test_stripe_refuses_an_invalid_vn_tin_in_words_and_nothing_is_saved(owner_client, live_practice, sandbox):
    refused = post_details(owner_client, live_practice, HX, tax_id_value="12345")
    assert refused.status_code == 422
    fragment = refused.get_data(as_text=True)
    assert "Stripe did not accept 12345 as a Vietnam tax ID (MST)." in fragment
    assert "1234567890, or 1234567890-123 for a branch" in fragment  # what one looks like
    assert re.search(r'id="tax_id_value-errors">\s*<li>Stripe did not accept', fragment)  # under the field
    for typed in (
        'value="12345"',
        'value="accounts@harbour-dental.com"',
        'value="12 Nguyen Hue"',
        '<option selected value="VN">',
    ):
        assert typed in fragment  # nothing typed is lost

    customer, tax_ids = at_stripe(sandbox, live_practice)
    assert tax_ids == [] and customer.name == "Harbour Dental" and customer.address.line1 is None
    db.session.refresh(live_practice)
    assert live_practice.legal_name is None and live_practice.address_line1 is None
    assert live_practice.tax_ids == []


def test_an_address_is_whole_or_not_given(owner_client, live_practice, sandbox):
    refused = post_details(owner_client, live_practice, address_country="", address_city="")
    assert refused.status_code == 422  # the page again, as typed, without calling Stripe
    page = refused.get_data(as_text=True)
    assert "Choose the country." in page and "Enter the city." in page and 'value="12 Nguyen Hue"' in page
    assert at_stripe(sandbox, live_practice)[0].address.line1 is None


def test_a_member_reads_the_details_but_cannot_change_them(auth, live_practice, user_factory, sandbox):
    assert post_details(login(auth, live_practice.members[0].user), live_practice).status_code == 303
    auth.logout()
    member = user_factory(email="member@example.com")
    add_member(live_practice, member, MemberRole.MEMBER)
    client = login(auth, member)
    page = billing_page(client, live_practice)
    assert "Harbour Dental Co., Ltd." in page and "Vietnam tax ID (MST)" in page and "1234567890" in page
    assert "Save billing details" not in page

    refused = client.post(
        f"/practices/{live_practice.id}/billing/details",
        data={"csrf_token": extract_csrf(page), **DETAILS, "legal_name": "Hijacked"},
    )
    assert refused.status_code == 403
    assert at_stripe(sandbox, live_practice)[0].name == "Harbour Dental Co., Ltd."
    db.session.refresh(live_practice)
    assert live_practice.legal_name == "Harbour Dental Co., Ltd."


def test_stripe_down_keeps_what_was_typed_and_saves_nothing(owner_client, live_practice, sandbox):
    data = {**details_form(billing_page(owner_client, live_practice)), **DETAILS}
    with sandbox.outage():
        answer = owner_client.post(f"/practices/{live_practice.id}/billing/details", data=data, headers=HX)
    assert answer.status_code == 200  # htmx swaps it in: the message and the form as typed
    fragment = answer.get_data(as_text=True)
    assert "Stripe could not be reached" in fragment and "Nothing was saved." in fragment
    assert 'value="Harbour Dental Co., Ltd."' in fragment and 'value="1234567890"' in fragment
    db.session.refresh(live_practice)
    assert live_practice.legal_name is None and live_practice.tax_ids == []

    again = owner_client.post(f"/practices/{live_practice.id}/billing/details", data=data, headers=HX)
    assert "Billing details saved." in again.get_data(as_text=True)  # once Stripe answers, it all goes
    assert at_stripe(sandbox, live_practice)[1] == [("vn_tin", "1234567890")]


@pytest.mark.parametrize("tax_id", [("vn_tin", "1234567890-123"), ("eu_vat", "DE123456789")])
def test_the_first_checkout_collects_address_and_tax_id_into_the_details_and_the_invoice(
    owner_client, live_practice, owner, sandbox, tax_id
):
    checkout_url = practice_checkout.start_checkout(live_practice, Plan.MONTHLY, owner)
    session = sandbox.client().v1.checkout.sessions.retrieve(checkout_url.rsplit("/", 1)[1])
    assert session.billing_address_collection == "required" and session.tax_id_collection.enabled
    typed = {
        "number": "4242424242424242",
        "expiry": "12 / 34",
        "cvc": "123",
        "name": "Olive Owner",
        **CHECKOUT_ADDRESS,
        "business_name": "Harbour Dental Co., Ltd.",
        "tax_id_type": tax_id[0],
        "tax_id_value": tax_id[1],
    }
    paid = requests.post(f"{checkout_url}/pay", data=typed, allow_redirects=False, timeout=30)
    assert paid.status_code == 303, paid.text[:300]
    owner_client.get(path_of(paid.headers["Location"]))  # back from Checkout: the success page

    db.session.refresh(live_practice)
    assert live_practice.address_line1 == "12 Nguyen Hue" and live_practice.address_country == "VN"
    assert live_practice.legal_name == "Harbour Dental Co., Ltd."
    assert [(t.type, t.value) for t in live_practice.tax_ids] == [tax_id]
    page = billing_page(owner_client, live_practice)
    assert 'value="12 Nguyen Hue"' in page and tax_id[1] in page

    invoice = db.session.scalars(db.select(PracticeInvoice).filter_by(practice_id=live_practice.id)).one()
    hosted = requests.get(invoice.hosted_invoice_url, timeout=10).text
    pdf = requests.get(invoice.invoice_pdf, timeout=10).content
    for words in ("Harbour Dental Co., Ltd.", "12 Nguyen Hue", "700000 Ho Chi Minh City", tax_id[1]):
        assert words in hosted and words.encode() in pdf

    # A later save in the portal wins over the (older) Checkout session, however late it is applied.
    sandbox.advance(seconds=5)
    [row] = live_practice.tax_ids
    assert row.stripe_id is None  # Checkout's session names type and value; the save finds it at Stripe
    saved = post_details(owner_client, live_practice, remove_tax_id=str(row.id), tax_id_value="")
    assert saved.status_code == 303 and at_stripe(sandbox, live_practice)[1] == []
    sandbox.advance(seconds=5)  # the success page visited again, later: the session is still older
    owner_client.get(path_of(paid.headers["Location"]))
    db.session.refresh(live_practice)
    assert live_practice.tax_ids == [] and live_practice.address_line2 == "Floor 3"
