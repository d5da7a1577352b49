"""Figure: tax IDs, History lines and Stripe calls from concurrent saves of the billing details.

An attack found 6 concurrent posts of one billing details form with a new EU VAT number made 6 tax
IDs at Stripe, 3 rows in the portal and 6 History lines. Here the form is posted 6 times at once
over real sockets three ways: the same rendering (a double click, a replay: one intent), the same
rendering with its once-only key stripped (6 intents from one drawn state), and 3 tabs (3 renderings,
their posts shared): each way one save, one tax ID at Stripe and in the portal, one History line;
repeats of the form that saved answer alike, every other post is told billing changed in another tab.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.practices import members
from portal.practices.models import BillingAuditEntry, PracticeTaxId
from tests.conftest import both_engines
from tests.reliability.live import Visitor, serve
from tests.reliability.test_one_effect_per_intent import answer

POSTS = 6
STALE = "Billing changed in another tab or window since this page was loaded"
SAVED = "Billing details saved."
ADDRESS = {
    "billing_email": "",
    "legal_name": "Praxis Einmal GmbH",
    "address_line1": "Hauptstrasse 1",
    "address_line2": "",
    "address_city": "Berlin",
    "address_state": "",
    "address_postal_code": "10115",
    "address_country": "DE",
    "tax_id_type": "eu_vat",
}


def counts(practice_id: int) -> tuple[int, int]:
    """(the practice's tax ID rows, its "Billing details changed" History lines)."""
    db.session.rollback()
    rows = db.session.scalar(
        sa.select(sa.func.count()).select_from(PracticeTaxId).where(PracticeTaxId.practice_id == practice_id)
    )
    lines = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BillingAuditEntry)
        .where(
            BillingAuditEntry.practice_id == practice_id,
            BillingAuditEntry.action == "billing_details_changed",
        )
    )
    return rows, lines


@both_engines
def test_six_concurrent_saves_make_one_tax_id(app, sandbox, figure, engine, user_factory):
    owner = user_factory(name="Olive Einmal")
    practice = members.create_practice(owner, "Praxis Einmal")
    pid, customer_id = practice.id, practice.stripe_customer_id
    path = f"/practices/{pid}/billing/details"
    billing = f"/practices/{pid}/billing"
    duplicates = 0
    with serve(app) as base:
        visitor = Visitor(base, owner.email)

        def race(value: str, forms: list[dict]) -> list[str]:
            nonlocal duplicates
            before = counts(pid)
            # (forms_of reads a checkbox as ticked: none of the tax IDs there is to be removed)
            posted = [{**form, **ADDRESS, "tax_id_value": value, "remove_tax_id": ""} for form in forms]
            with app.extensions["stripe_call_counter"].watch() as calls:
                said = [answer(r) for r in visitor.post_each_at_once(path, posted)]
            at_stripe = [t.value for t in sandbox.client().v1.customers.tax_ids.list(customer_id).data]
            rows, lines = (now - was for now, was in zip(counts(pid), before, strict=True))
            assert calls.count("customer.tax_id.create") == 1, (value, said)
            assert at_stripe.count(value) == 1 and (rows, lines) == (1, 1), (value, at_stripe, rows, lines)
            # Not told the details read as before: the winner may still be saving at Stripe.
            assert not any("DE" in words for words in said if STALE in words), (value, said)
            duplicates += calls.count("customer.tax_id.create") - 1 + at_stripe.count(value) - 1
            duplicates += rows - 1 + lines - 1
            return said

        one_form = visitor.form(billing, "/billing/details")
        said = race("DE111111111", [one_form] * POSTS)
        assert all(SAVED in words for words in said), said  # every repeat: the first post's answer

        keyless = visitor.form(billing, "/billing/details")
        keyless.pop("attempt")
        said = race("DE222222222", [keyless] * POSTS)
        assert sorted(SAVED in words for words in said) == [False] * (POSTS - 1) + [True], said
        assert sum(STALE in words for words in said) == POSTS - 1, said

        tabs = [visitor.form(billing, "/billing/details") for _ in range(3)]
        said = race("DE333333333", [tabs[n % 3] for n in range(POSTS)])
        assert sum(SAVED in words for words in said) == 2, said  # the tab that saved, posted twice
        assert sum(STALE in words for words in said) == POSTS - 2, said

    figure(
        f"billing_details_once[{engine}]",
        duplicates,
        f"duplicate tax IDs (at Stripe, in the portal), create calls or History lines from {POSTS} "
        "concurrent saves of the billing details, 3 ways (one form, one form without its key, 3 tabs); "
        "every other post told billing changed in another tab",
    )
