"""Seeding benchmark data through the portal's own services, and counting Stripe calls per action."""

from __future__ import annotations

import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa

from portal import create_app
from portal.auth import services as accounts
from portal.extensions import db
from portal.users.models import User
from portal.wallet import services as wallet

PASSWORD = "bench-password-1"


@contextmanager
def portal_app(stack):
    app = create_app(
        "development", SQLALCHEMY_DATABASE_URI=stack.database_url, STRIPE_API_BASE=stack.sandbox_url
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _stripe(app):
    return app.extensions["stripe_client"]


def seed_user(stack, email: str) -> int:
    with portal_app(stack):
        return accounts.register_user("Bench User", email, PASSWORD, verified=True).id


def save_test_card(app, user_wallet: wallet.Wallet, payment_method: str = "pm_card_visa") -> None:
    """What Stripe.js does in the browser (confirm), then what our endpoint does (complete)."""
    client = _stripe(app)
    intent = client.v1.setup_intents.create(
        {"customer": user_wallet.customer_id, "allowed_payment_method_types": ["card"]}
    )
    client.v1.setup_intents.confirm(intent.id, {"payment_method": payment_method})
    wallet.complete_card_setup(user_wallet, intent.id)


def seed_cards(stack, user_id: int, count: int) -> None:
    with portal_app(stack) as app:
        user_wallet = wallet.user_wallet(db.session.get(User, user_id))
        for _ in range(count):
            save_test_card(app, user_wallet)


def seed_practice(stack, owner_id: int, name: str, invoices: int) -> int:
    """A subscribed practice (paid in the sandbox's Checkout, DONE) with ``invoices`` more mirrored
    invoices bulk-inserted: the billing page as a paying clinic sees it, every section drawn."""
    from portal.practices import checkout as practice_checkout
    from portal.practices import members, plans
    from portal.practices.models import Plan, PracticeInvoice

    with portal_app(stack) as app, app.test_request_context():
        owner = db.session.get(User, owner_id)
        practice = members.create_practice(owner, name)
        plans.bootstrap_plans()
        success_url = _pay_checkout(practice_checkout.start_checkout(practice, Plan.MONTHLY, owner))
        practice_checkout.complete_checkout(practice, parse_qs(urlsplit(success_url).query)["session_id"][0])
        assert practice.billing_status == "DONE", practice.billing_status
        start = 1_700_000_000
        rows = [
            {
                "practice_id": practice.id,
                "stripe_id": f"in_bench_{practice.id}_{n}",
                "number": f"BENCH-{practice.id}-{n:05d}",
                "created": start + n * 86_400,
                "amount_due": 9900,
                "amount_paid": 9900,
                "currency": "usd",
                "status": "paid",
                "billing_reason": "subscription_cycle",
                "hosted_invoice_url": f"{stack.sandbox_url}/invoices/in_bench_{n}",
                "invoice_pdf": f"{stack.sandbox_url}/invoices/in_bench_{n}/pdf",
                "customer_id": None,
                "stripe_synced_at": start + n * 86_400,
            }
            for n in range(invoices)
        ]
        for chunk in range(0, len(rows), 1000):
            db.session.execute(sa.insert(PracticeInvoice), rows[chunk : chunk + 1000])
        db.session.commit()
        return practice.id


def _pay_checkout(checkout_url: str) -> str:
    """What the owner does on the sandbox's Checkout page; returns the success URL."""
    paid = requests.post(
        checkout_url + "/pay",
        data={
            "number": "4242424242424242",
            "expiry": "12 / 34",
            "cvc": "123",
            "name": "Bench Owner",
            # a practice's first Checkout asks for the billing address
            **{"address_line1": "1 Bench St", "address_city": "Hanoi", "address_postal_code": "100000"},
            "address_country": "VN",
        },
        allow_redirects=False,
        timeout=30,
    )
    paid.raise_for_status()
    return paid.headers["Location"]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _billing_form(client, base: str, **data: str) -> dict:
    """``data`` and the billing version the billing page draws into its forms (without it a post acts not)."""
    html = client.get(f"{base}/billing").get_data(as_text=True)
    version = re.search(r'name="billing_version"[^>]*value="([^"]+)"', html).group(1)
    return {**data, "billing_version": version}


def _record_practice_actions(client, record, headers: dict) -> None:
    """Create a practice, subscribe in Checkout (paid on the sandbox's page), cancel, resume."""
    from portal.practices import plans

    plans.bootstrap_plans()
    checkout: dict = {}

    def create() -> None:
        response = client.post("/practices/", data={"name": "Counted Clinic"}, headers=headers)
        checkout["base"] = response.headers["Location"].rsplit("/billing", 1)[0]

    record("create practice", create)
    base = checkout["base"]

    def subscribe() -> None:
        form = _billing_form(client, base, plan="monthly")
        response = client.post(f"{base}/billing/subscribe", data=form, headers=headers)
        checkout["url"] = response.headers["HX-Redirect"]

    record("subscribe (start checkout)", subscribe)
    success = _pay_checkout(checkout["url"]).split("://", 1)[1].split("/", 1)[1]
    record("subscribe (return page)", lambda: client.get("/" + success))
    record("render billing page", lambda: client.get(f"{base}/billing"))
    cancel_form = _billing_form(client, base, reason="bench")
    record("cancel", lambda: client.post(f"{base}/billing/cancel", data=cancel_form, headers=headers))
    resume_form = _billing_form(client, base)
    record("resume", lambda: client.post(f"{base}/billing/resume", data=resume_form, headers=headers))


def count_calls_per_action() -> dict[str, list[str]]:
    """Drive each user action through the real views once, recording the Stripe calls it makes."""
    from stripe_sandbox.testing import SandboxServer

    table: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = SandboxServer(webhook_url=None)
        sandbox.start()
        try:
            app = create_app(
                "testing",
                SQLALCHEMY_DATABASE_URI=f"sqlite:///{Path(tmp) / 'calls.sqlite'}",
                STRIPE_API_BASE=sandbox.url,
            )
            counter = app.extensions["stripe_call_counter"]
            with app.app_context():
                db.create_all()
                client = app.test_client()

                def record(action: str, fn) -> None:
                    with counter.watch() as calls:
                        fn()
                    table[action] = list(calls)

                page = client.get("/register").get_data(as_text=True)
                form = {
                    "name": "Counter",
                    "email": "count@example.com",
                    "password": PASSWORD,
                    "confirm": PASSWORD,
                }
                # Closed as the server closes it: the customer is created once the page has gone out.
                record(
                    "register",
                    lambda: client.post("/register", data={**form, "csrf_token": _csrf(page)}).close(),
                )
                login = {"email": form["email"], "password": PASSWORD}  # registering never logs in
                client.post(
                    "/login", data={**login, "csrf_token": _csrf(client.get("/login").get_data(as_text=True))}
                )
                token = _csrf(client.get("/account").get_data(as_text=True))
                headers = {"X-CSRFToken": token, "HX-Request": "true"}
                user = db.session.scalar(db.select(User))

                def add_card() -> None:
                    secret = client.post("/account/cards/setup-intent", headers=headers).get_json()[
                        "clientSecret"
                    ]
                    intent_id = secret.split("_secret_")[0]
                    sandbox.client().v1.setup_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
                    client.post("/account/cards/complete", data={"setup_intent": intent_id}, headers=headers)

                record("add card (first)", add_card)
                record("add card (second)", add_card)
                cards = wallet.list_cards(user.stripe_customer_id)
                record(
                    "make default",
                    lambda: client.post(f"/account/cards/{cards[1].stripe_id}/default", headers=headers),
                )
                record(
                    "remove card",
                    lambda: client.post(f"/account/cards/{cards[0].stripe_id}/remove", headers=headers),
                )
                record("render account page", lambda: client.get("/account"))
                _record_practice_actions(client, record, headers)
                db.drop_all()
        finally:
            sandbox.stop()
    return table
