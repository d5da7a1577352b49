"""The convergence run for trials and paused collection: a live portal fed by the sandbox's own
webhook delivery, once ``ordered`` and once ``shuffled+duplicates`` (every event twice, in random
order). A practice on trial is told once that it ends and then pays its plan; one paused by a platform
admin and one paused in Stripe's dashboard (resuming by itself) have their renewals voided. Both runs
end in the same state, and it is Stripe's."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.practices import members, pausing, plans
from portal.practices.models import Plan, Practice, PracticeInvoice
from portal.users.models import Role
from portal.webhooks.models import EventStatus, WebhookEvent
from stripe_sandbox.testing import SandboxServer
from tests.e2e.conftest import live_portal_factory  # noqa: F401  (fixture)
from tests.factories import UserFactory, make_user
from tests.practices.sandbox_helpers import save_card, subscribe_directly
from tests.smtp import free_port
from tests.strict_calls import check_no_rejections

SECRET = "whsec_trial_pause"
DAY = 86_400


def run(start_portal, mode: str) -> dict:
    sandbox_port = free_port()
    portal = start_portal(
        STRIPE_API_BASE=f"http://127.0.0.1:{sandbox_port}",
        STRIPE_WEBHOOK_SECRET=SECRET,
        SERVER_NAME=None,
        PLAN_TRIAL_DAYS_MONTHLY=14,
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
            copies = 2 if "duplicates" in mode else 1
            assert sandbox.flush_events()["delivered"] == copies * len(sandbox.events())
            db.session.remove()
            result = observed(sandbox)
            check_no_rejections(f"trial and pause convergence ({mode})", sandbox.requests_seen())
            return result
    finally:
        sandbox.stop()


def script(sandbox: SandboxServer) -> None:
    plans.bootstrap_plans()
    owner = make_user(name="Olive Owner", email="olive@example.com")
    admin = UserFactory(role=Role.ADMIN, name="Ada Admin")
    client = sandbox.client()

    trial = members.create_practice(owner, "E on trial")
    save_card(sandbox, trial)
    client.v1.subscriptions.create(
        {
            "customer": trial.stripe_customer_id,
            "items": [{"price": plans.price_id(Plan.MONTHLY.lookup_key)}],
            "add_invoice_items": [{"price": plans.price_id(plans.ONBOARDING_LOOKUP_KEY)}],
            "metadata": {"practiceId": str(trial.id)},
            "trial_period_days": plans.trial_days(Plan.MONTHLY, trial),
        }
    )
    paused = members.create_practice(owner, "F paused by the platform")
    save_card(sandbox, paused)
    subscribe_directly(sandbox, paused)
    dashboard = members.create_practice(owner, "G paused in Stripe's dashboard")
    save_card(sandbox, dashboard)
    dashboard_sub = subscribe_directly(sandbox, dashboard)
    sandbox.flush_events()

    pausing.pause_collection(paused.id, admin, "Clinic flooded")
    client.v1.subscriptions.update(
        dashboard_sub.id, {"pause_collection": {"behavior": "void", "resumes_at": sandbox.now() + 40 * DAY}}
    )
    sandbox.advance(days=12)  # E: trial_will_end
    sandbox.advance(days=20)  # E: the trial ends, the plan is paid; F, G: renewals voided
    sandbox.advance(days=32)  # G resumed at day 40: its next renewal is paid; F's voided again


def observed(sandbox: SandboxServer) -> dict:
    client = sandbox.client()
    failed = (
        sa.select(sa.func.count()).select_from(WebhookEvent).where(WebhookEvent.status == EventStatus.FAILED)
    )
    assert not db.session.scalar(failed)
    state = {}
    for practice in db.session.scalars(sa.select(Practice).order_by(Practice.name)):
        invoices = db.session.execute(
            sa.select(PracticeInvoice.billing_reason, PracticeInvoice.status, PracticeInvoice.amount_paid)
            .where(PracticeInvoice.practice_id == practice.id)
            .order_by(PracticeInvoice.created, PracticeInvoice.stripe_id)
        ).all()
        sub = client.v1.subscriptions.retrieve(practice.stripe_subscription_id)
        theirs = [
            (i.billing_reason, i.status, i.amount_paid)
            for i in sorted(
                client.v1.invoices.list({"customer": practice.stripe_customer_id, "limit": 100}).data,
                key=lambda i: (i.created, i.id),
            )
            if i.status != "draft"
        ]
        assert [tuple(row) for row in invoices] == theirs, practice.name
        assert practice.subscription_status == sub.status, practice.name
        assert practice.pause_behavior == (sub.pause_collection.behavior if sub.pause_collection else None)
        state[practice.name] = {
            "billing_status": practice.billing_status.value,
            "subscription_status": practice.subscription_status,
            "pause_behavior": practice.pause_behavior,
            "has_trial_end": practice.trial_end is not None,
            "invoices": [tuple(row) for row in invoices],
        }
    emails = sa.select(sa.func.count()).where(OutboundEmail.template == "practice_trial_ending")
    state["trial emails"] = db.session.scalar(emails)
    return state


def test_trials_and_pauses_converge_under_shuffled_duplicated_delivery(live_portal_factory):  # noqa: F811
    ordered = run(live_portal_factory, "ordered")
    assert ordered["trial emails"] == 1
    assert ordered["E on trial"]["subscription_status"] == "active"
    assert [row[1:] for row in ordered["E on trial"]["invoices"]] == [
        ("paid", 49900),
        ("paid", 9900),
        ("paid", 9900),
    ]
    assert ordered["F paused by the platform"]["pause_behavior"] == "void"
    assert [row[1] for row in ordered["F paused by the platform"]["invoices"]] == ["paid", "void", "void"]
    assert ordered["G paused in Stripe's dashboard"]["pause_behavior"] is None
    assert [row[1] for row in ordered["G paused in Stripe's dashboard"]["invoices"]] == [
        "paid",
        "void",
        "paid",
    ]
    assert {s["billing_status"] for k, s in ordered.items() if k != "trial emails"} == {"DONE"}

    assert run(live_portal_factory, "shuffled+duplicates") == ordered
