"""A practice's billing details through the billing page, round-tripped to its Stripe customer in
the sandbox: saved there first (email, name, address, tax ID objects), then locally; Stripe's
``tax_id_invalid`` in words under the field; members read only; Stripe down loses nothing; and the
first Checkout's address and tax ID come back into the details and onto the invoice."""

from __future__ import annotations

import re

import pytest
import requests
import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.practices import checkout as practice_checkout
from portal.practices import members
from portal.practices.models import BillingAuditEntry, MemberRole, Plan, PracticeInvoice
from tests.conftest import AuthActions, IsolatedClient, extract_csrf
from tests.practices.conftest import add_member, login
from tests.practices.sandbox_helpers import CHECKOUT_ADDRESS, HANDLERS, Inbox
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


def stripe_calls():
    return current_app.extensions["stripe_call_counter"].watch()


def history_lines(practice, action: str) -> list[str]:
    db.session.rollback()
    return list(
        db.session.scalars(
            sa.select(BillingAuditEntry.detail).where(
                BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action == action
            )
        )
    )


def said(html: str) -> str:
    """The message beside the Save button."""
    return re.search(r'<p class="flash flash-\w+" role="\w+">([^<]*)</p>\s*<button', html).group(1)


def test_a_stale_tab_is_told_and_overwrites_nothing(app, owner_client, live_practice, user_factory, sandbox):
    admin = user_factory(email="admin@example.com")
    add_member(live_practice, admin, MemberRole.ADMIN)
    admin_client = login(AuthActions(IsolatedClient(app, app.response_class, use_cookies=True)), admin)
    assert post_details(owner_client, live_practice).status_code == 303
    stale = details_form(billing_page(admin_client, live_practice))
    owner_saved = post_details(
        owner_client,
        live_practice,
        HX,
        billing_email="owner-saved@example.com",
        legal_name="Owner's Name Ltd",
    )
    assert said(owner_saved.get_data(as_text=True)).startswith("Billing details saved.")

    with stripe_calls() as calls:  # the admin changes the city on the page drawn before
        answer = admin_client.post(
            f"/practices/{live_practice.id}/billing/details",
            data={**stale, **DETAILS, "address_city": "Da Nang", "tax_id_value": ""},
            headers=HX,
        )
    assert calls == []
    fragment = answer.get_data(as_text=True)
    assert said(fragment).startswith("Billing changed in another tab or window since this page was loaded")
    assert "reload the page to see the details as saved" in said(fragment)
    assert 'value="Da Nang"' in fragment  # what the admin typed is kept
    customer, _ = at_stripe(sandbox, live_practice)
    assert (customer.email, customer.name, customer.address.city) == (
        "owner-saved@example.com",
        "Owner's Name Ltd",
        "Ho Chi Minh City",
    )
    db.session.refresh(live_practice)
    assert live_practice.legal_name == "Owner's Name Ltd" and live_practice.address_city == "Ho Chi Minh City"

    # Told, the admin saves again from the form as kept: now it is a decision, and it saves.
    again = details_form(fragment)
    answer = admin_client.post(
        f"/practices/{live_practice.id}/billing/details",
        data={**again, **DETAILS, "address_city": "Da Nang", "tax_id_value": ""},
        headers=HX,
    )
    assert said(answer.get_data(as_text=True)).startswith("Billing details saved.")
    assert at_stripe(sandbox, live_practice)[0].address.city == "Da Nang"


def test_a_save_that_changes_nothing_calls_stripe_not_and_writes_no_history(owner_client, live_practice):
    assert post_details(owner_client, live_practice).status_code == 303
    db.session.refresh(live_practice)
    [tax_id] = live_practice.tax_ids
    with stripe_calls() as calls:
        same = post_details(owner_client, live_practice, HX)  # the VAT number typed again: it is there
        as_drawn = post_details(owner_client, live_practice, HX, tax_id_value="")
    assert calls == []
    for answer in (same, as_drawn):
        assert (
            said(answer.get_data(as_text=True))
            == "Nothing to save: the billing details already read like this."
        )
    assert len(history_lines(live_practice, "billing_details_changed")) == 1
    db.session.refresh(live_practice)
    assert [t.id for t in live_practice.tax_ids] == [tax_id.id]


def outage_before(monkeypatch, sandbox, call: str) -> None:
    """Stripe goes down just before the save's ``call`` (after its earlier calls went through)."""
    real = getattr(stripe_customers, call)

    def cut_off(*args, **kwargs):
        sandbox.outage(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(stripe_customers, call, cut_off)


def test_a_save_cut_short_says_stripe_has_part_and_save_again_finishes(
    owner_client, live_practice, sandbox, monkeypatch
):
    assert post_details(owner_client, live_practice).status_code == 303
    db.session.refresh(live_practice)
    [vn_tin] = live_practice.tax_ids
    changed = {"legal_name": "Harbour Dental Group", "address_city": "Hanoi", "remove_tax_id": str(vn_tin.id)}
    outage_before(monkeypatch, sandbox, "delete_tax_id")  # the customer is updated, then Stripe is down
    try:
        cut = post_details(owner_client, live_practice, HX, tax_id_value="", **changed)
    finally:
        sandbox.outage(False)
        monkeypatch.undo()
    fragment = cut.get_data(as_text=True)
    assert "Stripe has part of this change; press Save again to finish it." in said(fragment)
    assert "Nothing was saved" not in fragment
    assert 'value="Harbour Dental Group"' in fragment and 'value="Hanoi"' in fragment  # as typed
    assert re.search(rf'value="{vn_tin.id}"\s+checked', fragment)  # still ticked for removal
    customer, tax_ids = at_stripe(sandbox, live_practice)
    assert customer.name == "Harbour Dental Group" and tax_ids == [("vn_tin", "1234567890")]
    db.session.refresh(live_practice)  # the portal follows what Stripe has, meanwhile
    assert live_practice.legal_name == "Harbour Dental Group" and len(live_practice.tax_ids) == 1
    assert history_lines(live_practice, "billing_details_partly_saved")

    again = owner_client.post(
        f"/practices/{live_practice.id}/billing/details",
        data={**details_form(fragment), **DETAILS, "tax_id_value": "", **changed},
        headers=HX,
    )
    assert said(again.get_data(as_text=True)).startswith("Billing details saved.")
    assert at_stripe(sandbox, live_practice)[1] == []
    db.session.refresh(live_practice)
    assert live_practice.tax_ids == [] and live_practice.address_city == "Hanoi"


def test_a_tax_id_stripe_took_before_the_cut_is_reused_not_doubled(
    owner_client, live_practice, sandbox, monkeypatch
):
    outage_before(monkeypatch, sandbox, "update_customer")  # the tax ID is created, then Stripe is down
    try:
        cut = post_details(owner_client, live_practice, HX)
    finally:
        sandbox.outage(False)
        monkeypatch.undo()
    fragment = cut.get_data(as_text=True)
    assert "Stripe has part of this change; press Save again to finish it." in said(fragment)
    assert at_stripe(sandbox, live_practice)[1] == [("vn_tin", "1234567890")]
    db.session.refresh(live_practice)
    assert [t.value for t in live_practice.tax_ids] == ["1234567890"] and live_practice.legal_name is None

    with stripe_calls() as calls:
        again = owner_client.post(
            f"/practices/{live_practice.id}/billing/details",
            data={**details_form(fragment), **DETAILS},
            headers=HX,
        )
    assert said(again.get_data(as_text=True)).startswith("Billing details saved.")
    assert calls.count("customer.tax_id.create") == 0
    customer, tax_ids = at_stripe(sandbox, live_practice)
    assert customer.name == "Harbour Dental Co., Ltd." and tax_ids == [("vn_tin", "1234567890")]


@pytest.mark.parametrize(
    ("country", "tax_type"),
    [("DE", "eu_vat"), ("FR", "eu_vat"), ("VN", "vn_tin"), ("GB", "gb_vat"), ("US", "us_ein"), ("CA", "")],
)
def test_the_tax_id_type_follows_the_address_country(owner_client, live_practice, country, tax_type):
    live_practice.address_country = country
    db.session.commit()
    page = billing_page(owner_client, live_practice)
    select = re.search(r'<select[^>]*name="tax_id_type".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option selected value="([^"]*)"', select) == [tax_type]
    assert f'"{country}": "{tax_type}"' in page if tax_type else True  # the script's copy of the rule


def test_a_tax_id_needs_its_type(owner_client, live_practice):
    refused = post_details(owner_client, live_practice, HX, tax_id_type="")
    assert refused.status_code == 422
    assert "Choose the tax ID&#39;s type." in refused.get_data(as_text=True)


def _countries(page: str) -> list[str]:
    select = re.search(r'<select[^>]*name="address_country".*?</select>', page, re.S).group(0)
    return [
        name.strip() for name in re.findall(r'<option[^>]*value="[A-Z]{2}"[^>]*>([^<]*)</option>', select)
    ]


def test_the_country_list_is_in_the_readers_alphabetical_order(owner_client, live_practice):
    """F15: sorted by the country's name as the reader reads it (Babel's names in Vietnamese), not by
    ISO code ("Austria, Australia, ... Switzerland after Canada")."""
    english = _countries(billing_page(owner_client, live_practice))
    assert english.index("Australia") < english.index("Austria") < english.index("Belgium")
    assert english.index("Sweden") < english.index("Switzerland") < english.index("United Kingdom")
    assert english == sorted(english) and english[-1] == "Vietnam"
    vi = owner_client.get(f"/practices/{live_practice.id}/billing", headers={"Accept-Language": "vi"})
    vietnamese = _countries(vi.get_data(as_text=True))
    assert len(vietnamese) == len(english) and "Việt Nam" in vietnamese and "Úc" in vietnamese
    # Letters first, their marks after: "Úc" (Australia) among the U's, "Đức" (Germany) after the D's.
    assert vietnamese.index("Ba Lan") < vietnamese.index("Bỉ") < vietnamese.index("Canada")
    assert vietnamese.index("Thụy Sĩ") < vietnamese.index("Úc") < vietnamese.index("Việt Nam")
    assert vietnamese.index("Đan Mạch") > vietnamese.index("Canada")


def test_details_from_checkout_are_said_once_for_the_success_page_and_the_event(
    owner_client, live_practice, owner, sandbox
):
    """The success page applies the session (dated by its subscription), then
    ``checkout.session.completed`` arrives (dated by the event, later): one Checkout, one line."""
    inbox = Inbox(sandbox, live_practice.stripe_customer_id)
    checkout_url = practice_checkout.start_checkout(live_practice, Plan.MONTHLY, owner)
    typed = {
        "number": "4242424242424242",
        "expiry": "12 / 34",
        "cvc": "123",
        "name": "Olive Owner",
        **CHECKOUT_ADDRESS,
    }
    paid = requests.post(f"{checkout_url}/pay", data=typed, allow_redirects=False, timeout=30)
    assert paid.status_code == 303, paid.text[:300]
    sandbox.advance(seconds=5)
    owner_client.get(path_of(paid.headers["Location"]))  # back from Checkout: the success page

    session_id = checkout_url.rsplit("/", 1)[1]
    event = next(
        e
        for e in sandbox.events()
        if e["type"] == "checkout.session.completed" and e["data"]["object"]["id"] == session_id
    )
    event = {**event, "created": event["created"] + 2}  # Stripe's event comes a moment after the subscription
    HANDLERS["checkout.session.completed"](event)
    db.session.commit()
    inbox.deliver()
    owner_client.get(path_of(paid.headers["Location"]))  # and the success page again (a reload)

    [line] = history_lines(live_practice, "billing_details_from_checkout")
    assert "Ho Chi Minh City" in line
    history = owner_client.get(f"/practices/{live_practice.id}/history").get_data(as_text=True)
    assert history.count("Billing details entered at Checkout") == 1
