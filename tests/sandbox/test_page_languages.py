"""The hosted pages speak the payer's language, as Stripe's do (issue 18): Checkout in the session's
``locale`` (none or ``auto``: the browser's), the invoice page in the customer's
``preferred_locales``, the 3-D Secure page in the payment's customer's; amounts as the language
writes them."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urljoin

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.test_pages import CARD


@pytest.fixture(scope="module")
def prices(server: SandboxServer) -> dict[str, str]:
    client = server.client()
    product = client.v1.products.create({"name": "Phòng khám"})
    monthly = client.v1.prices.create(
        {"product": product.id, "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"}}
    )
    semiannual = client.v1.prices.create(
        {
            "product": product.id,
            "unit_amount": 2_990_000,
            "currency": "vnd",
            "recurring": {"interval": "month", "interval_count": 6},
        }
    )
    fee = client.v1.prices.create({"product": product.id, "unit_amount": 499_000, "currency": "vnd"})
    return {"monthly": monthly.id, "semiannual": semiannual.id, "fee": fee.id}


def _session(client: stripe.StripeClient, line_items: list[dict], **extra: object) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": line_items,
            "success_url": "https://portal.test/done",
            "cancel_url": "https://portal.test/cancel",
            **extra,
        }
    )


def test_checkout_with_locale_vi_is_in_vietnamese_with_vietnamese_amounts(client, prices) -> None:
    session = _session(
        client,
        [{"price": prices["semiannual"], "quantity": 1}, {"price": prices["fee"], "quantity": 1}],
        locale="vi",
        customer_email="lan@clinic.vn",
        billing_address_collection="required",
    )
    assert client.v1.checkout.sessions.retrieve(session.id).locale == "vi"
    page = requests.get(session.url, timeout=5).text
    assert '<html lang="vi">' in page
    for words in ("Thanh toán", "Số thẻ", "Ngày hết hạn", "Tên chủ thẻ", "Địa chỉ thanh toán", "mỗi 6 tháng"):
        assert words in page
    assert "Tổng số tiền phải trả hôm nay" in page and "3.489.000\xa0₫" in page  # 2,990,000 + 499,000 VND
    for english in ("Card number", "Total due today", "Billing address", "every 6 months"):
        assert english not in page


def test_a_declined_card_is_said_in_the_pages_language(client, prices) -> None:
    session = _session(
        client, [{"price": prices["monthly"], "quantity": 1}], locale="vi", customer_email="a@b.vn"
    )
    declined = requests.post(f"{session.url}/pay", data={**CARD, "number": "4000000000000341"}, timeout=10)
    assert declined.status_code == 402 and "Thẻ của bạn đã bị từ chối." in declined.text


def test_checkout_without_a_locale_follows_the_browser_and_else_speaks_english(client, prices) -> None:
    session = _session(client, [{"price": prices["monthly"], "quantity": 1}], customer_email="o@clinic.test")
    english = requests.get(session.url, timeout=5).text
    assert '<html lang="en">' in english and "Card number" in english and "$99.00" in english
    viet = requests.get(session.url, headers={"Accept-Language": "vi-VN,vi;q=0.9"}, timeout=5).text
    assert "Số thẻ" in viet and "99,00\xa0US$" in viet


def test_the_checkout_3ds_page_is_in_the_sessions_language(sandbox, client, prices) -> None:
    session = _session(
        client, [{"price": prices["monthly"], "quantity": 1}], locale="vi", customer_email="s@c.vn"
    )
    http = requests.Session()
    first = http.post(
        f"{session.url}/pay", data={**CARD, "number": "4000002500003155"}, allow_redirects=False, timeout=10
    )
    challenge = http.get(urljoin(session.url, first.headers["Location"]), timeout=5).text
    assert "Trang thử nghiệm 3D Secure 2" in challenge and "Hoàn tất" in challenge and "Thất bại" in challenge


def test_the_invoice_page_and_3ds_page_follow_the_customers_preferred_locale(client, prices) -> None:
    customer = client.v1.customers.create({"email": "kt@clinic.vn", "preferred_locales": ["vi-VN"]})
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": prices["monthly"]}],
            "default_payment_method": pm.id,
            "expand": ["latest_invoice"],
        }
    )
    page = requests.get(sub.latest_invoice.hosted_invoice_url, timeout=5).text
    assert "Số tiền phải trả" in page and "Thanh toán 99,00\xa0US$" in page and "Amount due" not in page
    assert re.search(r'data-status="open">mở<', page)

    si = client.v1.setup_intents.create({"customer": customer.id})
    si = client.v1.setup_intents.confirm(
        si.id, {"payment_method": "pm_card_authenticationRequired", "return_url": "https://portal.test/cards"}
    )
    challenge = requests.get(si.next_action.redirect_to_url.url, timeout=5).text
    assert "Đây là trang xác thực thử nghiệm cho lưu thẻ của bạn." in challenge


def test_an_english_customers_pages_are_unchanged(client, prices) -> None:
    customer = client.v1.customers.create({"email": "en@clinic.test", "preferred_locales": ["en"]})
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    sub = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": prices["monthly"]}], "default_payment_method": pm.id}
    )
    invoice = client.v1.invoices.retrieve(str(sub.latest_invoice))
    page = requests.get(invoice.hosted_invoice_url, headers={"Accept-Language": "vi"}, timeout=5).text
    assert "Amount due" in page and "Pay $99.00" in page and "Số tiền" not in page


def test_the_card_element_speaks_the_locale_stripe_js_was_created_with(sandbox) -> None:
    frame = requests.get(
        f"{sandbox.url}/v3/elements/card", params={"id": "1", "key": "pk", "locale": "vi"}, timeout=5
    )
    assert '<html lang="vi">' in frame.text and "Số thẻ" in frame.text and "Card number" not in frame.text
    messages = json.loads(html.unescape(re.search(r'data-messages="([^"]*)"', frame.text).group(1)))
    assert messages["Your card number is incomplete."] == "Số thẻ của bạn chưa đầy đủ."  # for card-element.js
    english = requests.get(f"{sandbox.url}/v3/elements/card", params={"id": "1", "key": "pk"}, timeout=5)
    assert "Card number" in english.text and 'data-messages="{}"' in english.text
