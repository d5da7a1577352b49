"""Figure: duplicate effects and History lines under 5 concurrent posts of each billing action.

Each billing form (subscribe, cancel, resume, pay now, switch plan) is rendered once and posted
five times at once over real sockets, as a double click or a replaying client would: one Stripe
call, one History line, and all five answers say the same. Then the same actions from two tabs
(each its own rendering, so its own key), their five posts shared between the tabs and sent at
once: still one Stripe call and one History line; the tab that acted answers its posts alike,
the other tab's posts all answer that billing changed in another tab. (Starting a Checkout from
two tabs is two intents by design, the older session expired: see test_one_live_subscription.)
"""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from portal.extensions import db
from portal.practices import cards, members, plans
from portal.practices.models import BillingAuditEntry
from portal.practices.status import BillingStatus
from tests.conftest import both_engines
from tests.practices.sandbox_helpers import CHECKOUT_ADDRESS, Inbox, renew_on_card, save_card
from tests.reliability.live import Visitor, forms_of, serve

POSTS = 5
CARD = {
    "number": "4242 4242 4242 4242",
    "expiry": "12 / 34",
    "cvc": "123",
    "name": "Dr Once",
    **CHECKOUT_ADDRESS,
}


@pytest.fixture(scope="module")
def sandbox():
    """A sandbox of this module's own: its event list stays short."""
    from stripe_sandbox.testing import SandboxServer
    from tests.strict_calls import check_no_rejections

    with SandboxServer(webhook_url=None) as server:
        yield server
        check_no_rejections("one effect per intent (its own sandbox)", server.requests_seen())


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


STALE = "Billing changed in another tab or window since this page was loaded; here is the current state."


class Tally:
    def __init__(self, app, visitor: Visitor, practice_id: int) -> None:
        self.app, self.visitor, self.practice_id = app, visitor, practice_id
        self.rows: list[tuple[str, int, int, dict[str, set[str]]]] = []

    def race(self, name: str, path: str, tabs: list[dict], op: str, audit: str) -> dict[str, set[str]]:
        """``POSTS`` posts shared round-robin between the tabs' forms, all at once; answers by key."""
        forms = [tabs[n % len(tabs)] for n in range(POSTS)]
        audits_before = audit_count(self.practice_id, audit)
        with self.app.extensions["stripe_call_counter"].watch() as calls:
            responses = self.visitor.post_each_at_once(path, forms)
        answers: dict[str, set[str]] = {}
        for form, response in zip(forms, responses, strict=True):
            answers.setdefault(form["attempt"], set()).add(answer(response))
        audits = audit_count(self.practice_id, audit) - audits_before
        self.rows.append((name, calls.count(op), audits, answers))
        return answers

    @property
    def duplicates(self) -> int:
        return sum(max(0, calls - 1) + max(0, audits - 1) for _, calls, audits, _ in self.rows)


def tabs(visitor: Visitor, page: str, action_ends: str, count: int, **extra: str) -> list[dict]:
    """``count`` renderings of the page (tabs), the form posting to ``action_ends`` of each."""
    forms = [{**visitor.form(page, action_ends), **extra} for _ in range(count)]
    assert len({form["attempt"] for form in forms}) == count
    return forms


def previews(visitor: Visitor, billing: str, plan: str, count: int) -> list[dict]:
    """``count`` tabs each previewing a switch to ``plan``: their Confirm forms."""
    confirms = []
    for _ in range(count):
        preview_form = {**visitor.form(billing, "/billing/plan/preview"), "plan": plan}
        preview = visitor.post(f"{billing}/plan/preview", preview_form).text
        [form] = [fields for action, fields in forms_of(preview) if action.endswith("/billing/plan")]
        confirms.append(form)
    return confirms


def make_past_due(sandbox, inbox, practice, owner) -> None:
    """A renewal fails on the default card; a good card is then the default: "Pay now" is offered."""
    renew_on_card(sandbox, inbox, practice, owner)
    assert practice.billing_status == BillingStatus.PAST_DUE
    good = save_card(sandbox, practice, "pm_card_mastercard")
    cards.make_default_card(practice, good.stripe_id, owner)


@both_engines
def test_five_posts_of_each_billing_action_act_once(app, sandbox, figure, engine, user_factory):
    plans.bootstrap_plans()
    owner = user_factory(name="Olive Once")
    practice = members.create_practice(owner, "Once Only Clinic")
    pid, inbox = practice.id, Inbox(sandbox, practice.stripe_customer_id)
    billing = f"/practices/{pid}/billing"
    with serve(app) as base:
        visitor = Visitor(base, owner.email)
        tally = Tally(app, visitor, pid)

        form = tabs(visitor, billing, "/billing/subscribe", 1, plan="monthly")
        [[checkout_url]] = tally.race(
            "subscribe", f"{billing}/subscribe", form, "checkout.session.create", "checkout_started"
        ).values()
        paid = requests.post(f"{checkout_url}/pay", data=CARD, allow_redirects=False, timeout=30)
        assert paid.status_code == 303
        inbox.deliver()
        assert practice.billing_status == BillingStatus.DONE

        for count, label in ((1, ""), (2, " from 2 tabs")):
            form = tabs(visitor, billing, "/billing/cancel", count, reason="Trying another system")
            cancel = ("cancel" + label, f"{billing}/cancel", form, "subscription.update", "cancel_requested")
            tally.race(*cancel)
            inbox.deliver()
            form = tabs(visitor, billing, "/billing/resume", count)
            tally.race("resume" + label, f"{billing}/resume", form, "subscription.update", "resumed")
            inbox.deliver()

        for count, label in ((1, ""), (2, " from 2 tabs")):
            make_past_due(sandbox, inbox, practice, owner)
            form = tabs(visitor, billing, "/billing/pay", count)
            tally.race("pay now" + label, f"{billing}/pay", form, "invoice.pay", "paid_now")
            inbox.deliver()

        for count, label, plan in ((1, "", "semiannual"), (2, " from 2 tabs", "monthly")):
            if plan == "monthly":  # one switch now per PLAN_SWITCH_NOW_EVERY_DAYS: the next a month on
                sandbox.advance(days=31)
                inbox.deliver()
            form = previews(visitor, billing, plan, count)
            switch = ("switch plan" + label, f"{billing}/plan", form, "subscription.update", "plan_changed")
            tally.race(*switch)
            inbox.deliver()

    for name, calls, audits, answers in tally.rows:
        assert (calls, audits) == (1, 1), (name, calls, audits, answers)
        assert all(len(said) == 1 for said in answers.values()), (name, answers)  # a repeat: the same
        if len(answers) > 1:  # the tab that acted, and the other told billing changed meanwhile
            assert sorted(STALE in said.pop() for said in answers.values()) == [False, True], (name, answers)
    figure(
        f"one_effect_per_intent[{engine}]",
        tally.duplicates,
        f"duplicate Stripe calls or History lines from {POSTS} concurrent posts of each of "
        f"{len(tally.rows)} billing intents ({', '.join(row[0] for row in tally.rows)}); "
        "every repeat got the first post's answer, every stale tab was told",
    )
