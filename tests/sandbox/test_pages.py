"""Hosted pages: checkout, 3-D Secure challenge, invoice page and PDF, billing portal, Stripe.js."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver


@pytest.fixture(scope="module")
def prices(server: SandboxServer) -> dict[str, str]:
    client = server.client()
    product = client.v1.products.create({"name": "Clinic"})
    monthly = client.v1.prices.create(
        {"product": product.id, "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"}}
    )
    fee = client.v1.prices.create({"product": product.id, "unit_amount": 50000, "currency": "usd"})
    return {"monthly": monthly.id, "fee": fee.id}


def _session(client: stripe.StripeClient, prices: dict[str, str], **extra: object) -> stripe.checkout.Session:
    params = {
        "mode": "subscription",
        "line_items": [{"price": prices["monthly"], "quantity": 1}, {"price": prices["fee"], "quantity": 1}],
        "success_url": "https://portal.test/done?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://portal.test/cancel",
        "client_reference_id": "practice-3",
        "metadata": {"practiceId": "3"},
        "subscription_data": {"metadata": {"practiceId": "3"}},
        **extra,
    }
    return client.v1.checkout.sessions.create(params)


CARD = {"number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Dr Who"}


def test_checkout_subscription_with_fee(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, prices: dict[str, str]
) -> None:
    customer = client.v1.customers.create({"email": "buyer@clinic.test"})
    session = _session(client, prices, customer=customer.id)
    assert session.url.startswith(sandbox.url) and session.status == "open" and session.amount_total == 59900
    page = requests.get(session.url, timeout=5)
    for label in ("Card number", "Expiration date", "CVC", "Pay"):
        assert label in page.text
    paid = requests.post(f"{session.url}/pay", data=CARD, allow_redirects=False, timeout=10)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"https://portal.test/done?session_id={session.id}"
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription", "line_items"]})
    assert done.status == "complete" and done.payment_status == "paid"
    assert done.subscription.status == "active" and done.subscription.metadata["practiceId"] == "3"
    assert len(done.line_items.data) == 2
    invoice = client.v1.invoices.retrieve(str(done.subscription.latest_invoice))
    assert invoice.total == 59900 and invoice.status == "paid"
    refreshed = client.v1.customers.retrieve(customer.id)
    assert refreshed.invoice_settings.default_payment_method is not None
    sandbox.flush_events()
    completed = receiver.of_type("checkout.session.completed")
    assert [e["data"]["object"]["id"] for e in completed] == [session.id]
    assert completed[0]["data"]["object"]["client_reference_id"] == "practice-3"
    assert "invoice.paid" in receiver.types(done.subscription.id)


def test_checkout_declined_card_shows_error(client: stripe.StripeClient, prices: dict[str, str]) -> None:
    session = _session(client, prices, customer_email="new@clinic.test")
    declined = requests.post(f"{session.url}/pay", data={**CARD, "number": "4000000000000341"}, timeout=10)
    assert declined.status_code == 402 and "Your card was declined." in declined.text
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    # Nothing half-made: no customer and no incomplete subscription for the failed attempt.
    assert client.v1.customers.search({"query": "email:'new@clinic.test'"}).data == []


def test_checkout_3ds_challenge_then_success(
    sandbox: SandboxServer, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    session = _session(client, prices, customer_email="sca@clinic.test")
    http = requests.Session()
    first = http.post(
        f"{session.url}/pay", data={**CARD, "number": "4000002500003155"}, allow_redirects=False, timeout=10
    )
    assert first.status_code == 303 and first.headers["Location"].endswith("/challenge")
    challenge = http.get(urljoin(session.url, first.headers["Location"]), timeout=5)
    assert "Complete" in challenge.text and "Fail" in challenge.text
    action = re.search(r'action="([^"]+)"', challenge.text).group(1)
    done = http.post(
        f"{sandbox.url}{action}", data={"outcome": "complete"}, allow_redirects=False, timeout=10
    )
    assert done.status_code == 303
    finished = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    assert finished.status == "complete" and finished.subscription.status == "active"


def test_checkout_payment_mode_and_expire(client: stripe.StripeClient, prices: dict[str, str]) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": prices["fee"], "quantity": 2}],
            "success_url": "https://portal.test/ok",
            "payment_intent_data": {"metadata": {"orderId": "77"}},
        }
    )
    paid = requests.post(
        f"{session.url}/pay", data={**CARD, "email": "shop@x.test"}, allow_redirects=False, timeout=10
    )
    assert paid.status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent"]})
    assert done.payment_intent.amount == 100000 and done.payment_intent.status == "succeeded"
    assert done.payment_intent.metadata["orderId"] == "77"
    other = client.v1.checkout.sessions.create(
        {"mode": "payment", "line_items": [{"price": prices["fee"]}], "success_url": "https://portal.test/ok"}
    )
    expired = client.v1.checkout.sessions.expire(other.id)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(other.id)


def test_hosted_invoice_page_pay_and_pdf(
    sandbox: SandboxServer, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    customer = client.v1.customers.create({"email": "inv@x.test"})
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": prices["monthly"]}],
            "default_payment_method": pm.id,
            "expand": ["latest_invoice"],
        }
    )
    invoice = sub.latest_invoice
    assert invoice.status == "open"
    page = requests.get(invoice.hosted_invoice_url, timeout=5)
    assert page.status_code == 200 and "$99.00" in page.text and "Card number" in page.text
    pdf = requests.get(invoice.invoice_pdf, timeout=5)
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-1.4")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    paid = requests.post(f"{invoice.hosted_invoice_url}/pay", data=CARD, allow_redirects=False, timeout=10)
    assert paid.status_code == 303
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_challenge_page_redirects_to_return_url(client: stripe.StripeClient) -> None:
    si = client.v1.setup_intents.create({})
    si = client.v1.setup_intents.confirm(
        si.id, {"payment_method": "pm_card_authenticationRequired", "return_url": "https://portal.test/cards"}
    )
    url = si.next_action.redirect_to_url.url
    page = requests.get(url, timeout=5)
    assert 'name="return_url" value="https://portal.test/cards"' in page.text
    action = re.findall(r'action="([^"]+)"', page.text)[0]
    origin = f"{urlparse(url).scheme}://{urlparse(url).netloc}"
    back = requests.post(
        origin + action, data={"return_url": "https://portal.test/cards"}, allow_redirects=False, timeout=5
    )
    query = parse_qs(urlparse(back.headers["Location"]).query)
    assert query["setup_intent"] == [si.id] and query["redirect_status"] == ["succeeded"]


def test_billing_portal_session(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "bp@x.test"})
    session = client.v1.billing_portal.sessions.create(
        {"customer": customer.id, "return_url": "https://portal.test/b"}
    )
    page = requests.get(session.url, timeout=5)
    assert page.status_code == 200 and 'href="https://portal.test/b"' in page.text


def test_stripe_js_and_card_element_are_served(sandbox: SandboxServer) -> None:
    for path in ("/v3/", "/v3"):
        js = requests.get(sandbox.url + path, timeout=5)
        assert js.status_code == 200 and "javascript" in js.headers["Content-Type"]
        assert "confirmCardSetup" in js.text and "eval(" not in js.text
    frame = requests.get(f"{sandbox.url}/v3/elements/card?id=x&key=pk_test_sandbox", timeout=5)
    for label in ("Card number", "Expiration date", "CVC", "MM / YY"):
        assert label in frame.text
    assert "<script>" not in frame.text and not re.search(r"\son[a-z]+=", frame.text)
    dashboard = requests.get(sandbox.url + "/", timeout=5)
    assert "Advance 1 day" in dashboard.text and "Advance 1 month" in dashboard.text


def test_test_clock_advances_the_sandbox(
    sandbox: SandboxServer, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": sandbox.now()})
    customer = client.v1.customers.create(
        {"test_clock": clock.id, "payment_method": "pm_card_visa", "email": "clock@x.test"}
    )
    pm = client.v1.customers.payment_methods.list(customer.id).data[0]
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": prices["monthly"]}], "default_payment_method": pm.id}
    )
    assert sub.test_clock == clock.id
    before = sandbox.now()
    advanced = client.v1.test_helpers.test_clocks.advance(
        clock.id, {"frozen_time": clock.frozen_time + 32 * 86400}
    )
    assert advanced.status == "ready"
    assert sandbox.now() >= before + 32 * 86400
    assert len(client.v1.invoices.list({"subscription": sub.id}).data) == 2
    deleted = client.v1.test_helpers.test_clocks.delete(clock.id)
    assert deleted.deleted is True


def test_hosted_invoice_page_completes_authentication(
    sandbox: SandboxServer, client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    customer = client.v1.customers.create({"email": "sca-invoice@x.test"})
    pm = client.v1.payment_methods.attach("pm_card_authenticationRequired", {"customer": customer.id})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": prices["monthly"]}],
            "default_payment_method": pm.id,
            "expand": ["latest_invoice"],
        }
    )
    assert sub.status == "incomplete"
    page = requests.get(sub.latest_invoice.hosted_invoice_url, timeout=5)
    link = re.search(r'href="([^"]*/challenge/[^"]+)"', page.text)
    assert link and "Complete authentication" in page.text
    http = requests.Session()
    challenge = http.get(urljoin(sandbox.url, link.group(1).replace("&amp;", "&")), timeout=5)
    complete = re.findall(r'action="([^"]+)"', challenge.text)[0]
    return_url = re.search(r'name="return_url" value="([^"]+)"', challenge.text).group(1)
    back = http.post(
        urljoin(sandbox.url, complete), data={"return_url": return_url}, allow_redirects=False, timeout=5
    )
    assert back.status_code == 303 and back.headers["Location"].startswith(
        sub.latest_invoice.hosted_invoice_url
    )
    assert client.v1.invoices.retrieve(sub.latest_invoice.id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def _summary(html: str) -> list[str]:
    """The hosted Checkout's summary table, one "label | amount" string per row, tags dropped."""
    table = re.search(r'<table class="summary">(.*?)</table>', html, re.S)
    assert table is not None
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    return [
        " | ".join(
            " ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        )
        for r in rows
    ]


def test_checkout_page_lists_each_line_at_its_price_then_the_discount_then_the_total(
    client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    """F4: the lines at their prices ($99.00, $500.00), then "Discount -$119.80", then the total:
    the page adds up to what is charged (not lines already discounted and the discount again)."""
    coupon = client.v1.coupons.create({"percent_off": 20, "duration": "once"})
    session = _session(client, prices, discounts=[{"coupon": coupon.id}])
    assert session.amount_total == 47920
    rows = _summary(requests.get(session.url, timeout=5).text)
    assert rows == [
        "Clinic (every 1 month) | $99.00",
        "Clinic | $500.00",
        "Discount | -$119.80",
        "Total due today | $479.20",
    ]


def test_checkout_page_on_a_trial_says_days_free_and_the_price_after_it(
    client: stripe.StripeClient, prices: dict[str, str]
) -> None:
    """F4 (trial): the plan is not due today: "14 days free" and what it costs after the trial; the
    rows add up to what is charged today (the fee, after the discount)."""
    coupon = client.v1.coupons.create({"percent_off": 50, "duration": "forever"})
    session = _session(
        client,
        prices,
        discounts=[{"coupon": coupon.id}],
        subscription_data={"trial_period_days": 14, "metadata": {"practiceId": "3"}},
    )
    assert session.amount_total == 25000
    rows = _summary(requests.get(session.url, timeout=5).text)
    assert rows == [
        "Clinic (every 1 month) Then $49.50 after the trial | 14 days free",
        "Clinic | $500.00",
        "Discount | -$250.00",
        "Total due today | $250.00",
    ]
    once = client.v1.coupons.create({"amount_off": 10000, "currency": "usd", "duration": "once"})
    spent_today = _session(
        client, prices, discounts=[{"coupon": once.id}], subscription_data={"trial_period_days": 1}
    )
    assert spent_today.amount_total == 40000  # all $100.00 off today's fee, none of it on the plan
    rows = _summary(requests.get(spent_today.url, timeout=5).text)
    assert rows[0] == "Clinic (every 1 month) Then $99.00 after the trial | 1 day free"
    assert rows[-1] == "Total due today | $400.00"
    assert (
        requests.post(f"{spent_today.url}/pay", data=CARD, allow_redirects=False, timeout=10).status_code
        == 303
    )
    done = client.v1.checkout.sessions.retrieve(spent_today.id, {"expand": ["subscription.latest_invoice"]})
    assert done.subscription.status == "trialing" and done.subscription.latest_invoice.total == 40000
