"""The convergence run: a live portal fed by the sandbox's own webhook delivery.

Several practices subscribe, renew, fail a renewal (card 0341), cancel at period
end and resume, while the sandbox's clock runs through two months. The same
script runs once with ``ordered`` delivery and once with ``shuffled+duplicates``
(every event twice, in random order). Both runs must end with every practice in
the same state, and that state must equal Stripe's (the subscription retrieved,
its invoices listed).
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.gateway.shapes import subscription_period
from portal.practices import cards, members, plans, subscriptions
from portal.practices.mirror import to_datetime
from portal.practices.models import Plan, Practice, PracticeInvoice
from portal.webhooks.models import EventStatus, WebhookEvent
from stripe_sandbox.testing import SandboxServer
from tests.e2e.conftest import live_portal_factory  # noqa: F401  (fixture)
from tests.factories import make_user
from tests.practices.sandbox_helpers import save_card, subscribe_directly
from tests.smtp import free_port
from tests.strict_calls import check_no_rejections

SECRET = "whsec_convergence"


def run(start_portal, mode: str) -> tuple[dict, dict]:
    """The script against a fresh sandbox and portal; (normalised local state, Stripe's state)."""
    sandbox_port = free_port()
    portal = start_portal(
        STRIPE_API_BASE=f"http://127.0.0.1:{sandbox_port}", STRIPE_WEBHOOK_SECRET=SECRET, SERVER_NAME=None
    )
    sandbox = SandboxServer(
        webhook_url=f"{portal.url}/webhooks/stripe",
        webhook_secret=SECRET,
        delivery_mode=mode,
        port=sandbox_port,
    )
    sandbox.start()
    try:
        with portal.app.test_request_context(base_url=portal.url):
            script(sandbox)
            delivered = sandbox.flush_events()["delivered"]
            copies = 2 if "duplicates" in mode else 1
            assert delivered == copies * len(sandbox.events())  # every event reached the portal (twice)
            db.session.remove()
            result = observed(sandbox)
            check_no_rejections(f"webhook convergence ({mode})", sandbox.requests_seen())
            return result
    finally:
        sandbox.stop()


def script(sandbox: SandboxServer) -> None:
    plans.bootstrap_plans()
    owner = make_user(name="Olive Owner", email="olive@example.com")

    def practice(name: str, plan: Plan) -> Practice:
        created = members.create_practice(owner, name)
        save_card(sandbox, created)
        subscribe_directly(sandbox, created, plan)
        return created

    renewing = practice("A renews", Plan.MONTHLY)
    failing = practice("B fails to renew", Plan.MONTHLY)
    cancelling = practice("C cancels", Plan.MONTHLY)
    resuming = practice("D cancels then resumes", Plan.SEMIANNUAL)
    sandbox.flush_events()

    bad_card = save_card(sandbox, failing, "pm_card_chargeCustomerFail")
    cards.make_default_card(failing, bad_card.stripe_id, owner)
    subscriptions.cancel_subscription(cancelling, "Closing the clinic", owner)
    subscriptions.cancel_subscription(resuming, "Thinking about it", owner)
    sandbox.advance(days=10)
    subscriptions.resume_subscription(db.session.get(Practice, resuming.id), owner)
    sandbox.advance(days=22)  # renewals: A paid, B declined, C ends
    sandbox.advance(days=32)  # A again; B's retries run out
    assert renewing.id  # every practice is compared below, by name


def observed(sandbox: SandboxServer) -> tuple[dict, dict]:
    client = sandbox.client()
    local, stripe_side = {}, {}
    assert not db.session.scalar(
        sa.select(sa.func.count()).select_from(WebhookEvent).where(WebhookEvent.status == EventStatus.FAILED)
    )
    for practice in db.session.scalars(sa.select(Practice).order_by(Practice.name)):
        invoices = db.session.execute(
            sa.select(
                PracticeInvoice.stripe_id,
                PracticeInvoice.billing_reason,
                PracticeInvoice.status,
                PracticeInvoice.amount_due,
                PracticeInvoice.amount_paid,
            )
            .order_by(PracticeInvoice.created, PracticeInvoice.stripe_id)
            .where(PracticeInvoice.practice_id == practice.id)
        ).all()
        local[practice.name] = {
            "billing_status": practice.billing_status.value,
            "subscription_status": practice.subscription_status,
            "cancel_at_period_end": practice.cancel_at_period_end,
            "cancel_at": practice.cancel_at,
            "period": (practice.current_period_start, practice.current_period_end),
            "plan": practice.plan,
            "onboarding_paid": practice.onboarding_paid_at is not None,
            "invoices": [tuple(row) for row in invoices],
        }
        sub = client.v1.subscriptions.retrieve(practice.stripe_subscription_id)
        start, end = subscription_period(sub)
        stripe_invoices = [
            (i.id, i.billing_reason, i.status, i.amount_due, i.amount_paid)
            for i in sorted(
                client.v1.invoices.list({"customer": practice.stripe_customer_id, "limit": 100}).data,
                key=lambda i: (i.created, i.id),
            )
            if i.status != "draft"
        ]
        stripe_side[practice.name] = {
            "subscription_status": sub.status,
            "cancel_at_period_end": sub.cancel_at_period_end,
            "cancel_at": to_datetime(sub.cancel_at),
            "period": (to_datetime(start), to_datetime(end)),
            "invoices": stripe_invoices,
        }
    return local, stripe_side


def comparable(local: dict) -> dict:
    """What must match across runs: ids and absolute times differ between two sandboxes."""
    return {
        name: {
            **{k: v for k, v in state.items() if k not in ("invoices", "period", "cancel_at")},
            "period_days": (state["period"][1] - state["period"][0]).days if state["period"][0] else None,
            "cancel_at_set": state["cancel_at"] is not None,
            "invoices": [row[1:] for row in state["invoices"]],
        }
        for name, state in local.items()
    }


def matches_stripe(local: dict, stripe_side: dict) -> None:
    for name, state in local.items():
        theirs = stripe_side[name]
        mine = {k: state[k] for k in theirs}
        assert mine == theirs, name


def test_shuffled_duplicated_delivery_ends_where_ordered_delivery_does(live_portal_factory):  # noqa: F811
    ordered_local, ordered_stripe = run(live_portal_factory, "ordered")
    matches_stripe(ordered_local, ordered_stripe)

    chaos_local, chaos_stripe = run(live_portal_factory, "shuffled+duplicates")
    matches_stripe(chaos_local, chaos_stripe)

    assert comparable(chaos_local) == comparable(ordered_local)
    states = {name: s["billing_status"] for name, s in ordered_local.items()}
    assert states == {
        "A renews": "DONE",
        "B fails to renew": states["B fails to renew"],  # PAST_DUE or CANCELLED: whatever Stripe decided
        "C cancels": "CANCELLED",
        "D cancels then resumes": "DONE",
    }
    assert states["B fails to renew"] in ("PAST_DUE", "CANCELLED")
