"""Figure: duplicate effects and History lines under 5 concurrent posts of each billing action.

Each billing form (subscribe, cancel, resume, pay now, switch plan) is rendered once and posted
five times at once over real sockets, as a double click, two tabs or a replaying client would:
one Stripe call, one History line, and all five answers say the same.
"""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from portal.extensions import db
from portal.practices import services
from portal.practices.models import BillingAuditEntry
from portal.practices.status import BillingStatus
from tests.conftest import both_engines
from tests.practices.sandbox_helpers import Inbox, save_card
from tests.reliability.live import Visitor, forms_of, serve

POSTS = 5
CARD = {"number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Dr Once"}


@pytest.fixture(scope="module")
def sandbox():
    """A sandbox of this module's own: its event list stays short."""
    from stripe_sandbox.testing import SandboxServer

    with SandboxServer(webhook_url=None) as server:
        yield server


def audit_count(practice_id: int, action: str) -> int:
    db.session.rollback()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BillingAuditEntry)
        .where(BillingAuditEntry.practice_id == practice_id, BillingAuditEntry.action == action)
    )


def answer(response: requests.Response) -> str:
    """What the person sees: the redirect to Checkout, or the billing area's message."""
    if response.status_code == 204:
        return response.headers["HX-Redirect"]
    for marker in ('role="status">', 'role="alert">'):
        if marker in response.text:
            return response.text.split(marker, 1)[1].split("<", 1)[0]
    return f"{response.status_code} without a message"


class Tally:
    def __init__(self, app) -> None:
        self.app = app
        self.rows: list[tuple[str, int, int, set[str]]] = []

    def race(self, visitor: Visitor, practice_id: int, name: str, path: str, form: dict, op: str, audit: str):
        with self.app.extensions["stripe_call_counter"].watch() as calls:
            responses = visitor.post_at_once(path, form, POSTS)
        answers = {answer(r) for r in responses}
        self.rows.append((name, calls.count(op), audit_count(practice_id, audit), answers))
        return answers

    @property
    def duplicates(self) -> int:
        return sum(max(0, calls - 1) + max(0, audits - 1) for _, calls, audits, _ in self.rows)


@both_engines
def test_five_posts_of_each_billing_action_act_once(app, sandbox, figure, engine, user_factory):
    services.bootstrap_plans()
    owner = user_factory(name="Olive Once")
    practice = services.create_practice(owner, "Once Only Clinic")
    pid, inbox, tally = practice.id, Inbox(sandbox, practice.stripe_customer_id), Tally(app)
    billing = f"/practices/{pid}/billing"
    with serve(app) as base:
        visitor = Visitor(base, owner.email)

        form = {**visitor.form(billing, "/billing/subscribe"), "plan": "monthly"}
        [checkout_url] = tally.race(
            visitor,
            pid,
            "subscribe",
            f"{billing}/subscribe",
            form,
            "checkout.session.create",
            "checkout_started",
        )
        paid = requests.post(f"{checkout_url}/pay", data=CARD, allow_redirects=False, timeout=30)
        assert paid.status_code == 303
        inbox.deliver()
        assert practice.billing_status == BillingStatus.DONE

        form = {**visitor.form(billing, "/billing/cancel"), "reason": "Trying another system"}
        tally.race(
            visitor, pid, "cancel", f"{billing}/cancel", form, "subscription.update", "cancel_requested"
        )
        inbox.deliver()
        form = visitor.form(billing, "/billing/resume")
        tally.race(visitor, pid, "resume", f"{billing}/resume", form, "subscription.update", "resumed")
        inbox.deliver()

        failing = save_card(sandbox, practice, "pm_card_chargeCustomerFail")
        services.make_default_card(practice, failing.stripe_id, owner)
        sandbox.advance(days=31)
        inbox.deliver()
        assert practice.billing_status == BillingStatus.PAST_DUE
        good = save_card(sandbox, practice, "pm_card_mastercard")
        services.make_default_card(practice, good.stripe_id, owner)
        form = visitor.form(billing, "/billing/pay")
        tally.race(visitor, pid, "pay now", f"{billing}/pay", form, "invoice.pay", "paid_now")
        inbox.deliver()

        preview_form = {**visitor.form(billing, "/billing/plan/preview"), "plan": "semiannual"}
        preview = visitor.post(f"{billing}/plan/preview", preview_form).text
        [form] = [fields for action, fields in forms_of(preview) if action.endswith("/billing/plan")]
        tally.race(
            visitor, pid, "switch plan", f"{billing}/plan", form, "subscription.update", "plan_changed"
        )

    for name, calls, audits, answers in tally.rows:
        assert (calls, audits, len(answers)) == (1, 1, 1), (name, calls, audits, answers)
    figure(
        f"one_effect_per_intent[{engine}]",
        tally.duplicates,
        f"duplicate Stripe calls or History lines from {POSTS} concurrent posts of each of "
        f"{len(tally.rows)} billing actions ({', '.join(row[0] for row in tally.rows)}); "
        "every repeat got the first post's answer",
    )
