"""Figure 5: Stripe down during registration, card actions and subscribing.

Each action is tried while every Stripe call fails (the sandbox answers 503): the
person sees a clear message, nothing they did is lost, and once Stripe is back the
retry (``flask billing retry`` or simply doing it again) leaves exactly one Stripe object.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.auth import services as accounts
from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.practices.models import Practice
from portal.users.models import StripeSyncState, User
from portal.wallet.models import PaymentMethod
from tests.conftest import extract_csrf

HX = {"HX-Request": "true"}
UNREACHABLE = "Stripe could not be reached"
PASSWORD = "outage-password-1"


def _csrf(client, path: str = "/account") -> str:
    return extract_csrf(client.get(path).get_data(as_text=True))


def _hx(client, token: str) -> dict:
    return {**HX, "X-CSRFToken": token}


def _stripe_cards(sandbox, customer_id: str) -> list[str]:
    return [pm.id for pm in sandbox.client().v1.customers.payment_methods.list(customer_id).data]


def _default_at_stripe(sandbox, customer_id: str) -> str | None:
    return sandbox.client().v1.customers.retrieve(customer_id).invoice_settings.default_payment_method


def _local_cards(customer_id: str) -> list[tuple[str, bool]]:
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(PaymentMethod.stripe_id, PaymentMethod.is_default)
        .where(PaymentMethod.customer_id == customer_id)
        .order_by(PaymentMethod.stripe_id)
    )
    return [tuple(row) for row in rows]


def _add_card(client, sandbox, token: str, card: str = "pm_card_visa"):
    response = client.post("/account/cards/setup-intent", headers=_hx(client, token))
    assert response.status_code == 200, response.get_data(as_text=True)
    intent_id = response.get_json()["clientSecret"].split("_secret_")[0]
    sandbox.client().v1.setup_intents.confirm(intent_id, {"payment_method": card})
    return intent_id


def test_stripe_outage_loses_nothing_and_retry_makes_one_object(client, runner, sandbox, figure):
    checked: list[str] = []

    # --- registration -------------------------------------------------------------------------------
    token = _csrf(client, "/register")
    form = {
        "name": "Ola Outage",
        "email": "ola@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "csrf_token": token,
    }
    with sandbox.outage():
        response = client.post("/register", data=form, follow_redirects=True)
    page = response.get_data(as_text=True)
    # Registration answers the same whatever happened (it never tells whether an email is taken).
    assert response.status_code == 200 and "We sent a message to ola@example.com" in page
    token = _csrf(client, "/login")
    login = {"email": "ola@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    user = db.session.scalar(sa.select(User).filter_by(email="ola@example.com"))
    assert (
        user is not None and user.stripe_customer_id is None and user.stripe_sync == StripeSyncState.PENDING
    )
    for _ in range(2):  # the retry is safe to run twice
        result = runner.invoke(args=["billing", "retry"])
        assert result.exit_code == 0, result.output
    db.session.refresh(user)
    found = sandbox.client().v1.customers.search({"query": f"metadata['userRef']:'{user.stripe_ref}'"}).data
    assert [c.id for c in found] == [user.stripe_customer_id]
    customer_id = user.stripe_customer_id
    checked.append("register")

    # --- add a card: the SetupIntent, then completing it ----------------------------------------------
    token = _csrf(client)
    with sandbox.outage():
        response = client.post("/account/cards/setup-intent", headers=_hx(client, token))
    assert response.status_code == 503 and UNREACHABLE in response.get_json()["error"]
    first_intent = _add_card(client, sandbox, token)
    with sandbox.outage():
        response = client.post(
            "/account/cards/complete", data={"setup_intent": first_intent}, headers=_hx(client, token)
        )
    assert UNREACHABLE in response.get_data(as_text=True)
    assert _local_cards(customer_id) == []
    response = client.post(
        "/account/cards/complete", data={"setup_intent": first_intent}, headers=_hx(client, token)
    )
    assert "Card saved." in response.get_data(as_text=True)
    [first] = _stripe_cards(sandbox, customer_id)
    assert _local_cards(customer_id) == [(first, True)]
    checked.append("add card")

    # --- make another card the default -----------------------------------------------------------------
    second_intent = _add_card(client, sandbox, token, "pm_card_mastercard")
    client.post("/account/cards/complete", data={"setup_intent": second_intent}, headers=_hx(client, token))
    second = next(pm for pm in _stripe_cards(sandbox, customer_id) if pm != first)
    with sandbox.outage():
        response = client.post(f"/account/cards/{second}/default", headers=_hx(client, token))
    assert UNREACHABLE in response.get_data(as_text=True)
    assert dict(_local_cards(customer_id)) == {first: True, second: False}
    assert _default_at_stripe(sandbox, customer_id) == first
    response = client.post(f"/account/cards/{second}/default", headers=_hx(client, token))
    assert "Default card updated." in response.get_data(as_text=True)
    assert dict(_local_cards(customer_id)) == {first: False, second: True}
    assert _default_at_stripe(sandbox, customer_id) == second
    checked.append("make default")

    # --- remove a card -----------------------------------------------------------------------------------
    with sandbox.outage():
        response = client.post(f"/account/cards/{first}/remove", headers=_hx(client, token))
    assert UNREACHABLE in response.get_data(as_text=True)
    assert sorted(_stripe_cards(sandbox, customer_id)) == sorted([first, second])
    assert dict(_local_cards(customer_id)) == {first: False, second: True}
    response = client.post(f"/account/cards/{first}/remove", headers=_hx(client, token))
    assert "Card removed." in response.get_data(as_text=True)
    assert _stripe_cards(sandbox, customer_id) == [second]
    assert _local_cards(customer_id) == [(second, True)]
    checked.append("remove card")

    # --- create a practice and subscribe -----------------------------------------------------------------
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    token = _csrf(client, "/practices/")
    with sandbox.outage():
        response = client.post("/practices/", data={"name": "Outage Dental", "csrf_token": token})
        assert response.status_code == 303
        practice = db.session.scalar(sa.select(Practice).filter_by(name="Outage Dental"))
        assert practice is not None and practice.stripe_customer_id is None
        form = {"plan": "monthly", "billing_version": str(practice.billing_version)}  # as the page draws it
        response = client.post(
            f"/practices/{practice.id}/billing/subscribe",
            data=form,
            headers=_hx(client, token),
        )
    assert UNREACHABLE in response.get_data(as_text=True)
    assert "HX-Redirect" not in response.headers
    response = client.post(
        f"/practices/{practice.id}/billing/subscribe", data=form, headers=_hx(client, token)
    )
    assert response.status_code == 204 and "/checkout/" in response.headers["HX-Redirect"]
    db.session.refresh(practice)
    found = stripe_customers.find_customer_by_metadata("practiceRef", practice.stripe_ref)
    assert found.id == practice.stripe_customer_id
    sessions = sandbox.client().v1.checkout.sessions.list({"customer": practice.stripe_customer_id}).data
    assert len(sessions) == 1
    assert runner.invoke(args=["billing", "retry"]).output.count("still pending 0") == 2
    checked.append("subscribe")

    assert accounts.authenticate("ola@example.com", PASSWORD) is not None  # the account itself was kept
    figure(
        "stripe_outage",
        len(checked),
        f"actions under a Stripe outage ({', '.join(checked)}): message shown, nothing lost, "
        "exactly 1 Stripe object after the retry",
    )
