"""Issue 17: coupons, promotion codes and the discounts they make, as Stripe has them
(https://docs.stripe.com/api/coupons, https://docs.stripe.com/api/promotion_codes,
https://docs.stripe.com/billing/subscriptions/coupons), through the official SDK."""

from __future__ import annotations

import pytest
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver, wait_until

DAY = 86400


@pytest.fixture(scope="module")
def price(server: SandboxServer) -> str:
    client = server.client()
    product = client.v1.products.create({"name": "Discounted plan"})
    return client.v1.prices.create(
        {"product": product.id, "unit_amount": 10000, "currency": "usd", "recurring": {"interval": "month"}}
    ).id


def _customer(client: stripe.StripeClient) -> str:
    customer = client.v1.customers.create({"email": "codes@clinic.test", "payment_method": "pm_card_visa"})
    pm = client.v1.payment_methods.list({"customer": customer.id}).data[0].id
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm}})
    return customer.id


def _code(client: stripe.StripeClient, coupon: str, **extra) -> stripe.PromotionCode:
    return client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon}, **extra})


def test_coupon_create_retrieve_update_delete_list(client: stripe.StripeClient, receiver: Receiver) -> None:
    coupon = client.v1.coupons.create(
        {"percent_off": 30, "duration": "repeating", "duration_in_months": 3, "name": "Stay with us"}
    )
    assert (coupon.object, coupon.percent_off, coupon.duration, coupon.duration_in_months) == (
        "coupon",
        30,
        "repeating",
        3,
    )
    assert coupon.valid and coupon.times_redeemed == 0 and coupon.amount_off is None
    assert client.v1.coupons.retrieve(coupon.id).name == "Stay with us"
    updated = client.v1.coupons.update(coupon.id, {"name": "Thanks", "metadata": {"k": "v"}})
    assert updated.name == "Thanks" and updated.metadata["k"] == "v"
    assert coupon.id in [c.id for c in client.v1.coupons.list({"limit": 100}).data]
    deleted = client.v1.coupons.delete(coupon.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.coupons.retrieve(coupon.id)
    assert missing.value.code == "resource_missing" and missing.value.http_status == 404
    assert wait_until(lambda: {"coupon.created", "coupon.updated", "coupon.deleted"} <= set(receiver.types()))


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"percent_off": 0}, "percent_off"),
        ({"percent_off": 101}, "percent_off"),
        ({"amount_off": -5, "currency": "usd"}, "amount_off"),
        ({"amount_off": 500}, "currency"),
        ({"percent_off": 10, "amount_off": 500, "currency": "usd"}, "amount_off"),
        ({"percent_off": 10, "duration": "repeating"}, "duration_in_months"),
    ],
)
def test_coupon_refusals(client: stripe.StripeClient, params: dict, param: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.coupons.create(params)
    assert refused.value.http_status == 400 and refused.value.param == param


def test_coupon_update_takes_only_name_and_metadata(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create({"percent_off": 10})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.coupons.update(coupon.id, {"percent_off": 20})  # type: ignore[typeddict-unknown-key]


def test_promotion_code_shape_update_and_list_by_code(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create({"amount_off": 1500, "currency": "usd", "duration": "once"})
    promo = _code(client, coupon.id, code="WELCOME-15", max_redemptions=5)
    assert promo.object == "promotion_code" and promo.code == "WELCOME-15" and promo.active
    assert promo.promotion.coupon == coupon.id and promo.promotion.type == "coupon"
    assert promo.times_redeemed == 0 and promo.max_redemptions == 5
    found = client.v1.promotion_codes.list({"code": "welcome-15", "active": True}).data
    assert [p.id for p in found] == [promo.id]
    with pytest.raises(stripe.InvalidRequestError) as taken:
        _code(client, coupon.id, code="welcome-15")
    assert taken.value.param == "code"
    off = client.v1.promotion_codes.update(promo.id, {"active": False})
    assert off.active is False
    assert client.v1.promotion_codes.list({"code": "WELCOME-15", "active": True}).data == []


@pytest.mark.parametrize("code", ["has space", "x" * 501, "émoji", "semi;colon"])
def test_promotion_code_refuses_odd_codes(client: stripe.StripeClient, code: str) -> None:
    coupon = client.v1.coupons.create({"percent_off": 5})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _code(client, coupon.id, code=code)
    assert refused.value.param == "code"


def test_promotion_code_on_subscription_discounts_invoices_for_its_months(
    sandbox: SandboxServer, client: stripe.StripeClient, price: str
) -> None:
    coupon = client.v1.coupons.create({"percent_off": 30, "duration": "repeating", "duration_in_months": 2})
    promo = _code(client, coupon.id, code=f"SPRING-{sandbox.now()}")
    customer = _customer(client)
    sub = client.v1.subscriptions.create(
        {"customer": customer, "items": [{"price": price}], "discounts": [{"promotion_code": promo.id}]}
    )
    assert len(sub.discounts) == 1
    discount = client.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts"]}).discounts[0]
    assert discount.object == "discount" and discount.source.coupon == coupon.id
    assert discount.promotion_code == promo.id and discount.subscription == sub.id
    assert discount.end is not None and discount.end > discount.start
    first = client.v1.invoices.retrieve(sub.latest_invoice)
    assert (first.subtotal, first.total, first.amount_paid) == (10000, 7000, 7000)
    assert first.discounts == [discount.id]
    assert first.total_discount_amounts[0].amount == 3000
    assert first.lines.data[0].discount_amounts[0].amount == 3000
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 1
    preview = client.v1.invoices.create_preview({"subscription": sub.id})
    assert preview.total == 7000 and preview.subtotal == 10000
    sandbox.advance(days=32)
    second = client.v1.invoices.list({"subscription": sub.id}).data[0]
    assert second.id != first.id and second.total == 7000
    sandbox.advance(days=31)
    third = client.v1.invoices.list({"subscription": sub.id}).data[0]
    assert third.id != second.id and third.total == 10000 and third.discounts == []
    # The ended discount has left the subscription, as at Stripe (F17: never shown as current).
    assert client.v1.subscriptions.retrieve(sub.id).discounts == []


def test_an_ended_discount_leaves_the_subscription_with_its_events(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, price: str
) -> None:
    coupon = client.v1.coupons.create({"percent_off": 25, "duration": "repeating", "duration_in_months": 1})
    sub = client.v1.subscriptions.create(
        {"customer": _customer(client), "items": [{"price": price}], "discounts": [{"coupon": coupon.id}]}
    )
    [discount] = sub.discounts
    sandbox.advance(days=32)
    assert client.v1.subscriptions.retrieve(sub.id).discounts == []
    sandbox.flush_events()
    assert discount in [e["data"]["object"]["id"] for e in receiver.of_type("customer.discount.deleted")]
    updated = [
        e
        for e in receiver.of_type("customer.subscription.updated")
        if e["data"]["object"]["id"] == sub.id and "discounts" in e["data"].get("previous_attributes", {})
    ]
    assert updated and updated[-1]["data"]["object"]["discounts"] == []


def test_once_coupon_applies_to_one_invoice(
    sandbox: SandboxServer, client: stripe.StripeClient, price: str
) -> None:
    coupon = client.v1.coupons.create({"amount_off": 2500, "currency": "usd", "duration": "once"})
    sub = client.v1.subscriptions.create(
        {"customer": _customer(client), "items": [{"price": price}], "discounts": [{"coupon": coupon.id}]}
    )
    assert client.v1.invoices.retrieve(sub.latest_invoice).total == 7500
    assert client.v1.subscriptions.retrieve(sub.id).discounts == []
    sandbox.advance(days=32)
    assert client.v1.invoices.list({"subscription": sub.id}).data[0].total == 10000


def test_expired_inactive_and_used_up_codes_are_refused(
    sandbox: SandboxServer, client: stripe.StripeClient, price: str
) -> None:
    coupon = client.v1.coupons.create({"percent_off": 10, "duration": "forever"})
    inactive = _code(client, coupon.id, active=False)
    expiring = _code(client, coupon.id, expires_at=sandbox.now() + 3600)
    once = _code(client, coupon.id, max_redemptions=1)
    customer = _customer(client)
    client.v1.subscriptions.create(
        {"customer": customer, "items": [{"price": price}], "discounts": [{"promotion_code": once.id}]}
    )
    sandbox.advance(seconds=7200)
    for promo in (inactive, expiring, once):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscriptions.create(
                {
                    "customer": customer,
                    "items": [{"price": price}],
                    "discounts": [{"promotion_code": promo.id}],
                }
            )
        assert refused.value.param == "discounts[0][promotion_code]"
    limited = client.v1.coupons.create({"percent_off": 10, "max_redemptions": 1})
    client.v1.subscriptions.create(
        {"customer": customer, "items": [{"price": price}], "discounts": [{"coupon": limited.id}]}
    )
    assert client.v1.coupons.retrieve(limited.id).valid is False
    with pytest.raises(stripe.InvalidRequestError) as expired:
        client.v1.subscriptions.create(
            {"customer": customer, "items": [{"price": price}], "discounts": [{"coupon": limited.id}]}
        )
    assert expired.value.code == "coupon_expired"


def test_update_adds_a_discount_once_per_idempotency_key(client: stripe.StripeClient, price: str) -> None:
    coupon = client.v1.coupons.create({"percent_off": 30, "duration": "repeating", "duration_in_months": 3})
    sub = client.v1.subscriptions.create({"customer": _customer(client), "items": [{"price": price}]})
    for _ in range(2):
        updated = client.v1.subscriptions.update(
            sub.id, {"discounts": [{"coupon": coupon.id}]}, {"idempotency_key": f"retain-{sub.id}"}
        )
    assert len(updated.discounts) == 1
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 1
    preview = client.v1.invoices.create_preview({"subscription": sub.id})
    assert preview.total == 7000
    kept = client.v1.subscriptions.update(sub.id, {"discounts": [{"discount": updated.discounts[0]}]})
    assert kept.discounts == updated.discounts
    cleared = client.v1.subscriptions.update(sub.id, {"discounts": ""})
    assert cleared.discounts == []


def test_preview_with_a_code_redeems_nothing(client: stripe.StripeClient, price: str) -> None:
    coupon = client.v1.coupons.create({"percent_off": 50, "duration": "once"})
    promo = _code(client, coupon.id)
    sub = client.v1.subscriptions.create({"customer": _customer(client), "items": [{"price": price}]})
    preview = client.v1.invoices.create_preview(
        {"subscription": sub.id, "discounts": [{"promotion_code": promo.id}]}
    )
    assert preview.total == 5000 and preview.subtotal == 10000
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 0


CARD = {"number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Dr Who"}


def _session(client: stripe.StripeClient, price: str, **extra) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": price, "quantity": 1}],
            "success_url": "https://portal.test/done",
            **extra,
        }
    )


def test_checkout_with_discounts_charges_less_and_redeems_on_completion(
    client: stripe.StripeClient, price: str
) -> None:
    import requests

    coupon = client.v1.coupons.create({"percent_off": 25, "duration": "once"})
    promo = _code(client, coupon.id)
    session = _session(client, price, discounts=[{"promotion_code": promo.id}])
    assert (session.amount_subtotal, session.amount_total) == (10000, 7500)
    assert session.total_details.amount_discount == 2500
    assert session.discounts[0].promotion_code == promo.id
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 0
    paid = requests.post(f"{session.url}/pay", data=CARD, allow_redirects=False, timeout=10)
    assert paid.status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription.latest_invoice"]})
    assert done.subscription.latest_invoice.total == 7500
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1


def test_checkout_discounts_and_allow_promotion_codes_exclude_each_other(
    client: stripe.StripeClient, price: str
) -> None:
    coupon = client.v1.coupons.create({"percent_off": 25})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _session(client, price, discounts=[{"coupon": coupon.id}], allow_promotion_codes=True)
    assert refused.value.code == "parameters_exclusive"


def test_hosted_checkout_add_promotion_code_field(client: stripe.StripeClient, price: str) -> None:
    import requests

    coupon = client.v1.coupons.create({"amount_off": 1000, "currency": "usd"})
    promo = _code(client, coupon.id, code=f"HOSTED{coupon.id.upper()}")
    session = _session(client, price, allow_promotion_codes=True)
    assert session.allow_promotion_codes is True
    page = requests.get(session.url, timeout=10).text
    assert "Add promotion code" in page
    wrong = requests.post(f"{session.url}/promotion_code", data={"promotion_code": "NOPE"}, timeout=10)
    assert wrong.status_code == 400 and "This code is invalid." in wrong.text
    right = requests.post(
        f"{session.url}/promotion_code", data={"promotion_code": promo.code.lower()}, timeout=10
    )
    assert right.status_code == 200 and "Discount" in right.text
    assert client.v1.checkout.sessions.retrieve(session.id).amount_total == 9000
    requests.post(f"{session.url}/pay", data=CARD, allow_redirects=False, timeout=10)
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    assert client.v1.invoices.retrieve(done.subscription.latest_invoice).total == 9000


def test_coupons_expand_by_their_unprefixed_ids(client: stripe.StripeClient, price: str) -> None:
    coupon = client.v1.coupons.create({"percent_off": 30, "duration": "forever"})
    promo = _code(client, coupon.id)
    found = client.v1.promotion_codes.list({"code": promo.code, "expand": ["data.promotion.coupon"]}).data[0]
    assert found.promotion.coupon.id == coupon.id and found.promotion.coupon.percent_off == 30
    sub = client.v1.subscriptions.create(
        {"customer": _customer(client), "items": [{"price": price}], "discounts": [{"coupon": coupon.id}]}
    )
    expanded = client.v1.subscriptions.retrieve(sub.id, {"expand": ["discounts.source.coupon"]})
    assert expanded.discounts[0].source.coupon.duration == "forever"


def test_stacked_discounts_never_take_an_invoice_below_zero_nor_make_credit(
    sandbox: SandboxServer, client: stripe.StripeClient, price: str
) -> None:
    """F6: $10 off forever and then 100% off forever on a $100 plan. Each discount takes at most what
    the earlier ones left of the line, so every invoice comes to $0.00 and no credit appears out of
    nothing, renewal after renewal (Stripe never discounts below zero)."""
    ten_off = client.v1.coupons.create({"amount_off": 1000, "currency": "usd", "duration": "forever"})
    all_off = client.v1.coupons.create({"percent_off": 100, "duration": "forever"})
    customer = _customer(client)
    sub = client.v1.subscriptions.create(
        {
            "customer": customer,
            "items": [{"price": price}],
            "discounts": [{"coupon": ten_off.id}, {"coupon": all_off.id}],
        }
    )
    first = client.v1.invoices.retrieve(sub.latest_invoice)
    assert (first.subtotal, first.total, first.amount_due) == (10000, 0, 0)
    assert [d.amount for d in first.total_discount_amounts] == [1000, 9000]
    assert sum(d.amount for d in first.lines.data[0].discount_amounts) == 10000
    preview = client.v1.invoices.create_preview({"subscription": sub.id})
    assert (preview.subtotal, preview.total) == (10000, 0)
    sandbox.advance(days=32)
    renewal = client.v1.invoices.list({"subscription": sub.id}).data[0]
    assert renewal.id != first.id and renewal.total == 0 and renewal.ending_balance in (0, None)
    assert client.v1.customers.retrieve(customer).balance == 0


def test_a_percent_after_a_percent_stops_at_zero(client: stripe.StripeClient, price: str) -> None:
    """Two percents that add up to more than the line (60% then 70%): the second takes what is left."""
    sixty = client.v1.coupons.create({"percent_off": 60, "duration": "forever"})
    seventy = client.v1.coupons.create({"percent_off": 70, "duration": "forever"})
    sub = client.v1.subscriptions.create({"customer": _customer(client), "items": [{"price": price}]})
    preview = client.v1.invoices.create_preview(
        {"subscription": sub.id, "discounts": [{"coupon": sixty.id}, {"coupon": seventy.id}]}
    )
    assert [d.amount for d in preview.total_discount_amounts] == [6000, 4000]
    assert preview.total == 0


def test_a_credit_note_for_a_discounted_line_credits_what_was_charged(
    client: stripe.StripeClient, price: str
) -> None:
    coupon = client.v1.coupons.create({"percent_off": 30, "duration": "forever"})
    sub = client.v1.subscriptions.create(
        {"customer": _customer(client), "items": [{"price": price}], "discounts": [{"coupon": coupon.id}]}
    )
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert (invoice.total, invoice.amount_paid) == (7000, 7000)
    line = invoice.lines.data[0]
    note = client.v1.credit_notes.create(
        {
            "invoice": invoice.id,
            "lines": [{"type": "invoice_line_item", "invoice_line_item": line.id, "quantity": 1}],
            "refund_amount": 7000,
        }
    )
    assert (note.subtotal, note.discount_amount, note.amount, note.total) == (10000, 3000, 7000, 7000)
    assert note.lines.data[0].discount_amount == 3000
    assert note.discount_amounts[0].discount == sub.discounts[0]


def test_a_coupon_past_redeem_by_is_invalid_everywhere_and_its_codes_are_refused(
    sandbox: SandboxServer, client: stripe.StripeClient, price: str
) -> None:
    """``valid`` turns false at ``redeem_by`` on the sandbox's clock, as at Stripe: retrieved, listed
    and expanded under its promotion code; a code on it is refused with Stripe's coupon_expired."""
    coupon = client.v1.coupons.create({"percent_off": 100, "redeem_by": sandbox.now() + 60})
    promo = _code(client, coupon.id, code=f"REDEEMBY{coupon.id.upper()}")
    sandbox.advance(seconds=120)
    assert client.v1.coupons.retrieve(coupon.id).valid is False
    found = client.v1.promotion_codes.list({"code": promo.code, "expand": ["data.promotion.coupon"]}).data[0]
    assert found.promotion.coupon.valid is False
    assert (
        client.v1.promotion_codes.retrieve(promo.id, {"expand": ["promotion.coupon"]}).promotion.coupon.valid
        is False
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.create(
            {
                "customer": _customer(client),
                "items": [{"price": price}],
                "discounts": [{"promotion_code": promo.id}],
            }
        )
    assert refused.value.http_status == 400 and refused.value.code == "coupon_expired"
    assert refused.value.param == "discounts[0][promotion_code]"


def test_an_expanded_coupon_is_valid_as_of_now(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    """As at Stripe, ``valid`` turns false at ``redeem_by``, also where the coupon is expanded (a
    promotion code's list with ``data.promotion.coupon``): third attack F3 found it left true there."""
    coupon = client.v1.coupons.create(
        {"percent_off": 100, "duration": "once", "redeem_by": sandbox.now() + 60}
    )
    promo = _code(client, coupon.id)
    listed = lambda: client.v1.promotion_codes.list(  # noqa: E731
        {"code": promo.code, "expand": ["data.promotion.coupon"]}
    ).data[0]
    assert listed().promotion.coupon.valid is True
    sandbox.advance(seconds=120)
    assert listed().promotion.coupon.valid is False
    assert client.v1.coupons.retrieve(coupon.id).valid is False
