"""Figure 10: no card number, secret key, client secret, webhook secret or password in any log line.

A representative run (register, add cards with SetupIntents, make one the default,
remove one, create and subscribe a practice, pay, Stripe's webhook deliveries, the
JSON API) with every logger at DEBUG, ``stripe`` and ``urllib3`` included, then
every record (message, arguments and traceback, formatted) is scanned.
"""

from __future__ import annotations

import logging

import pytest
import requests

from portal.practices.models import Practice
from tests.conftest import extract_csrf
from tests.practices.sandbox_helpers import subscribe_directly
from tests.stripe_payloads import deliver

CARD = "4242424242424242"
PASSWORD = "log-scan-password-1"
API_PASSWORD = "api-scan-password-2"
FORBIDDEN = {
    "card number": CARD,
    "secret key": "sk_test_",
    "client secret": "_secret_",
    "webhook secret": "whsec_",
    "password": PASSWORD,
    "API password": API_PASSWORD,
}
LOGGERS = ("", "stripe", "urllib3", "portal", "werkzeug", "flask_limiter")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def debug_logs(app):
    """Every logger at DEBUG (create_app quiets ``stripe``; an operator may turn it back up)."""
    handler = Collect()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _browser_confirms(sandbox, app, client_secret: str, number: str = CARD) -> str:
    """What Stripe.js does in the browser: the card goes to Stripe, never to the portal."""
    key = {"Authorization": f"Bearer {app.config['STRIPE_PUBLISHABLE_KEY']}"}
    pm = requests.post(
        f"{sandbox.url}/v1/payment_methods",
        headers=key,
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
        timeout=10,
    ).json()
    intent_id = client_secret.split("_secret_")[0]
    confirmed = requests.post(
        f"{sandbox.url}/v1/setup_intents/{intent_id}/confirm",
        headers=key,
        data={"payment_method": pm["id"], "client_secret": client_secret},
        timeout=10,
    ).json()
    assert confirmed["status"] == "succeeded", confirmed
    return intent_id


def test_no_secret_in_any_log_line(app, client, sandbox, runner, debug_logs, figure):
    hx = {"HX-Request": "true"}
    runner.invoke(args=["billing", "bootstrap"])

    # Register and log in through the forms.
    token = extract_csrf(client.get("/register").get_data(as_text=True))
    form = {
        "name": "Logan Scan",
        "email": "logan@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "csrf_token": token,
    }
    assert client.post("/register", data=form).status_code == 302
    token = extract_csrf(client.get("/login").get_data(as_text=True))
    login = {"email": "logan@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    token = extract_csrf(client.get("/account").get_data(as_text=True))
    hx["X-CSRFToken"] = token

    # Two cards via SetupIntents and the Stripe.js stand-in; the second made default, the first removed.
    card_ids = []
    for number in (CARD, "5555555555554444"):
        secret = client.post("/account/cards/setup-intent", headers=hx).get_json()["clientSecret"]
        intent_id = _browser_confirms(sandbox, app, secret, number)
        response = client.post("/account/cards/complete", data={"setup_intent": intent_id}, headers=hx)
        assert "Card saved." in response.get_data(as_text=True)
        intent = sandbox.client().v1.setup_intents.retrieve(intent_id)
        card_ids.append(intent.payment_method)
    assert "Default card updated." in client.post(f"/account/cards/{card_ids[1]}/default", headers=hx).text
    assert "Card removed." in client.post(f"/account/cards/{card_ids[0]}/remove", headers=hx).text

    # A practice: created, its card saved, subscribed (what Checkout does), paid.
    client.post("/practices/", data={"name": "Log Clinic", "csrf_token": token})
    practice = Practice.query.filter_by(name="Log Clinic").one()
    base = f"/practices/{practice.id}/billing"
    secret = client.post(f"{base}/cards/setup-intent", headers=hx).get_json()["clientSecret"]
    intent_id = _browser_confirms(sandbox, app, secret)
    assert (
        "Card saved."
        in client.post(f"{base}/cards/complete", data={"setup_intent": intent_id}, headers=hx).text
    )
    form = {"plan": "monthly", "billing_version": str(practice.billing_version)}  # as the page draws it
    checkout = client.post(f"{base}/subscribe", data=form, headers=hx)
    assert checkout.status_code == 204
    subscription = subscribe_directly(sandbox, practice)
    assert subscription.status == "active"

    # Stripe's webhooks for both customers, delivered (and one delivered twice, one tampered).
    customers = {practice.stripe_customer_id, practice.members[0].user.stripe_customer_id}
    events = [e for e in sandbox.events() if _customer_of(e) in customers]
    assert len(events) >= 5
    for event in events:
        assert deliver(client, event).status_code in (200, 500)
    deliver(client, events[0])
    client.post("/webhooks/stripe", data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert client.get(base).status_code == 200

    # The JSON API: sign up and log in with a password, use the token.
    body = {"name": "Api Scan", "email": "api-scan@example.com", "password": API_PASSWORD}
    assert client.post("/users", json=body).status_code == 202
    login = client.post("/auth/login", json={"email": body["email"], "password": API_PASSWORD})
    access = login.get_json()["data"]["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    assert client.post("/payments/customer/setup-intent", headers=bearer).status_code == 201
    assert client.get("/payments/customer/payment-methods", headers=bearer).status_code == 200

    lines = debug_logs.lines
    assert any(line.startswith("DEBUG stripe") or " stripe " in line for line in lines), (
        "stripe logged nothing"
    )
    assert any("urllib3" in line for line in lines)
    found = {what: [line[:300] for line in lines if needle in line] for what, needle in FORBIDDEN.items()}
    found = {what: hits for what, hits in found.items() if hits}
    assert found == {}, found
    figure(
        "log_secrets",
        len(lines),
        f"log lines scanned at DEBUG (stripe, urllib3, portal, werkzeug, root): 0 card numbers, secret keys, "
        f"client secrets, webhook secrets or passwords ({len(events)} webhook deliveries in the run)",
    )


def _customer_of(event: dict):
    obj = event["data"]["object"]
    customer = obj.get("customer") if obj.get("object") != "customer" else obj.get("id")
    return customer.get("id") if isinstance(customer, dict) else customer


def test_the_stripe_logger_redacts_what_the_sdk_would_log(app, debug_logs):
    """The scan above is not vacuous: the SDK does log response bodies, and the filter masks them."""
    body = '{"client_secret": "seti_1AbC_secret_XyZ", "key": "sk_test_abc", "whsec": "whsec_abc"}'
    logging.getLogger("stripe").debug("API response body body=%s card=%s", body, CARD)
    [line] = [line for line in debug_logs.lines if "API response body" in line]
    assert all(needle not in line for needle in FORBIDDEN.values()), line
    assert line.count("[redacted]") == 4
