"""Wire-format behaviour: errors, auth, idempotency, pagination, search, expansion, cards, delivery."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver, wait_until


def test_error_shapes_and_statuses(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    body = missing.value.json_body["error"]
    assert body["type"] == "invalid_request_error" and body["param"] == "id" and "cus_nope" in body["message"]

    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.payment_intents.create({"currency": "usd"})
    assert bad.value.http_status == 400 and bad.value.param == "amount"

    with pytest.raises(stripe.AuthenticationError) as auth:
        sandbox.client("sk_live_nope").v1.customers.list()
    assert auth.value.http_status == 401

    with pytest.raises(stripe.AuthenticationError):
        sandbox.client("pk_test_sandbox").v1.customers.list()

    response = requests.get(f"{sandbox.url}/v1/customers", timeout=5)
    assert response.status_code == 401 and response.json()["error"]["type"] == "invalid_request_error"

    unknown = requests.get(
        f"{sandbox.url}/v1/nothing", headers={"Authorization": "Bearer sk_test_x"}, timeout=5
    )
    assert unknown.status_code == 404


def test_declines(sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver) -> None:
    customer = client.v1.customers.create({"email": "d@x.test"})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(
            {
                "amount": 2000,
                "currency": "usd",
                "customer": customer.id,
                "payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds",
                "confirm": True,
            }
        )
    error = declined.value
    assert error.http_status == 402 and error.code == "card_declined"
    assert error.error.decline_code == "insufficient_funds"
    assert error.user_message == "Your card has insufficient funds."
    pi = client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert (
        pi.status == "requires_payment_method" and pi.last_payment_error.decline_code == "insufficient_funds"
    )
    assert pi.latest_charge is not None
    sandbox.flush_events()
    assert "payment_intent.payment_failed" in receiver.types(pi.id)

    # 0341 attaches but its charges fail.
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    with pytest.raises(stripe.CardError) as failed:
        client.v1.payment_intents.create(
            {
                "amount": 2000,
                "currency": "usd",
                "customer": customer.id,
                "payment_method": pm.id,
                "confirm": True,
                "off_session": True,
            }
        )
    assert failed.value.code == "card_declined" and failed.value.user_message == "Your card was declined."
    # 9995 fails a SetupIntent too.
    si = client.v1.setup_intents.create({"customer": customer.id})
    with pytest.raises(stripe.CardError):
        client.v1.setup_intents.confirm(
            si.id, {"payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"}
        )
    assert client.v1.setup_intents.retrieve(si.id).status == "requires_payment_method"
    # A good card succeeds, with a charge.
    ok = client.v1.payment_intents.create(
        {
            "amount": 1500,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
            "receipt_email": "d@x.test",
            "metadata": {"orderId": "9"},
            "expand": ["latest_charge"],
        }
    )
    assert ok.status == "succeeded" and ok.latest_charge.amount == 1500 and ok.latest_charge.paid


def test_card_numbers_and_attachment(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    stripe_js = sandbox.client("pk_test_sandbox")  # card numbers come from Stripe.js, never the server
    pm = stripe_js.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4000002500003155", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    assert pm.card.last4 == "3155" and pm.card.brand == "visa" and pm.customer is None
    with pytest.raises(stripe.CardError) as bad:
        stripe_js.v1.payment_methods.create(
            {"type": "card", "card": {"number": "4242424242424241", "exp_month": 12, "exp_year": 2034}}
        )
    assert bad.value.code == "incorrect_number"
    first = client.v1.customers.create({})
    second = client.v1.customers.create({})
    client.v1.payment_methods.attach(pm.id, {"customer": first.id})
    with pytest.raises(stripe.InvalidRequestError) as attached:
        client.v1.payment_methods.attach(pm.id, {"customer": second.id})
    assert attached.value.http_status == 400 and "already been attached" in attached.value.user_message
    listed = client.v1.customers.payment_methods.list(first.id)
    assert [p.id for p in listed.data] == [pm.id]
    assert [p.id for p in client.v1.payment_methods.list({"customer": first.id}).data] == [pm.id]
    client.v1.customers.update(first.id, {"invoice_settings": {"default_payment_method": pm.id}})
    detached = client.v1.payment_methods.detach(pm.id)
    assert detached.customer is None
    assert client.v1.customers.retrieve(first.id).invoice_settings.default_payment_method is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.update(second.id, {"invoice_settings": {"default_payment_method": pm.id}})


def test_3ds_setup_requires_action_then_completes(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create({})
    si = client.v1.setup_intents.create({"customer": customer.id, "usage": "off_session"})
    si = client.v1.setup_intents.confirm(si.id, {"payment_method": "pm_card_authenticationRequired"})
    assert si.status == "requires_action" and si.next_action.type == "use_stripe_sdk"
    challenge_url = si.next_action.use_stripe_sdk["stripe_js"]
    assert challenge_url.startswith(sandbox.url)
    page = requests.get(challenge_url, timeout=5)
    assert page.status_code == 200 and "Complete" in page.text and "Fail" in page.text
    sandbox.authenticate(si.id, "complete")
    si = client.v1.setup_intents.retrieve(si.id)
    assert si.status == "succeeded"
    assert client.v1.payment_methods.retrieve(str(si.payment_method)).customer == customer.id

    failing = client.v1.setup_intents.create({"customer": customer.id})
    failing = client.v1.setup_intents.confirm(
        failing.id,
        {"payment_method": "pm_card_threeDSecure2Required", "return_url": "https://portal.test/back"},
    )
    assert failing.next_action.type == "redirect_to_url"
    sandbox.authenticate(failing.id, "fail")
    failing = client.v1.setup_intents.retrieve(failing.id)
    assert failing.status == "requires_payment_method"
    assert failing.last_setup_error.code == "setup_intent_authentication_failure"

    pi = client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
        }
    )
    assert pi.status == "requires_action"
    sandbox.authenticate(pi.id)
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"


def test_idempotency(client: stripe.StripeClient) -> None:
    first = client.v1.customers.create(
        {"email": "same@x.test"}, {"idempotency_key": "customer-create-user-1"}
    )
    again = client.v1.customers.create(
        {"email": "same@x.test"}, {"idempotency_key": "customer-create-user-1"}
    )
    assert first.id == again.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "other@x.test"}, {"idempotency_key": "customer-create-user-1"})

    # Concurrent duplicates: Stripe answers one still in flight with 409 (the SDK retries it, then
    # raises); whatever succeeds is the one customer the key made.
    results: list[str] = []
    conflicts: list[int] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        try:
            customer = client.v1.customers.create({"email": "race@x.test"}, {"idempotency_key": "race-key"})
        except stripe.APIError as error:
            conflicts.append(error.http_status or 0)
            return
        results.append(customer.id)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results and len(results) + len(conflicts) == 8 and set(conflicts) <= {409}
    assert len(set(results)) == 1
    found = client.v1.customers.search({"query": "email:'race@x.test'"})
    assert [c.id for c in found.data] == [results[0]]


def test_pagination_and_search(client: stripe.StripeClient) -> None:
    ids = [
        client.v1.customers.create({"metadata": {"batch": "pages"}, "email": f"p{i}@x.test"}).id
        for i in range(7)
    ]
    page = client.v1.customers.list({"limit": 3})
    assert page.object == "list" and page.has_more and [c.id for c in page.data] == ids[::-1][:3]
    nxt = client.v1.customers.list({"limit": 3, "starting_after": page.data[-1].id})
    assert [c.id for c in nxt.data] == ids[::-1][3:6]
    back = client.v1.customers.list({"limit": 3, "ending_before": nxt.data[0].id})
    assert [c.id for c in back.data] == [c.id for c in page.data]
    everything = [c.id for c in client.v1.customers.list({"limit": 2}).auto_paging_iter()]
    assert set(ids) <= set(everything)
    found = client.v1.customers.search({"query": "metadata['batch']:'pages'", "limit": 100})
    assert found.object == "search_result" and sorted(c.id for c in found.data) == sorted(ids)
    one = client.v1.customers.search({"query": "email:'p3@x.test'"})
    assert [c.id for c in one.data] == [ids[3]]


def test_customer_update_delete_and_expand(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver
) -> None:
    customer = client.v1.customers.create({"name": "Old", "email": "u@x.test"})
    client.v1.customers.update(customer.id, {"name": "New", "metadata": {"userId": "5"}})
    si = client.v1.setup_intents.create({"customer": customer.id})
    si = client.v1.setup_intents.confirm(si.id, {"payment_method": "pm_card_visa"})
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": si.payment_method}}
    )
    expanded = client.v1.customers.retrieve(
        customer.id, {"expand": ["invoice_settings.default_payment_method"]}
    )
    assert expanded.invoice_settings.default_payment_method.card.last4 == "4242"
    si2 = client.v1.setup_intents.retrieve(si.id, {"expand": ["payment_method", "customer"]})
    assert si2.customer.name == "New" and si2.payment_method.id == si.payment_method
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.deleted is True and deleted.id == customer.id
    assert client.v1.customers.retrieve(customer.id).deleted is True
    sandbox.flush_events()
    updated = [e for e in receiver.of_type("customer.updated") if e["data"]["object"]["id"] == customer.id]
    assert updated[0]["data"]["previous_attributes"]["name"] == "Old"
    assert "customer.deleted" in receiver.types(customer.id)


def test_prices_lookup_keys(client: stripe.StripeClient) -> None:
    price = client.v1.prices.create(
        {
            "unit_amount": 1200,
            "currency": "usd",
            "product_data": {"name": "Lookup"},
            "lookup_key": "lk_monthly",
            "recurring": {"interval": "month"},
        }
    )
    found = client.v1.prices.list({"lookup_keys": ["lk_monthly"], "active": True, "expand": ["data.product"]})
    assert [p.id for p in found.data] == [price.id] and found.data[0].product.name == "Lookup"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.create(
            {"unit_amount": 1, "currency": "usd", "product": price.product, "lookup_key": "lk_monthly"}
        )
    moved = client.v1.prices.create(
        {
            "unit_amount": 1300,
            "currency": "usd",
            "product": price.product,
            "lookup_key": "lk_monthly",
            "transfer_lookup_key": True,
        }
    )
    assert [p.id for p in client.v1.prices.list({"lookup_keys": ["lk_monthly"]}).data] == [moved.id]
    updated = client.v1.products.update(price.product, {"description": "Now described"})
    assert updated.description == "Now described"


def test_events_api(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "events@x.test"})
    events = client.v1.events.list({"type": "customer.created", "limit": 100})
    mine = [e for e in events.data if e.data.object.id == customer.id]
    assert len(mine) == 1
    event = client.v1.events.retrieve(mine[0].id)
    assert event.api_version == "2026-10-28.endive" and event.livemode is False and event.request.id


def test_events_list_pages_newest_first(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    for n in range(5):
        client.v1.customers.create({"email": f"paged-{n}@x.test"})
    everything = [e.id for e in client.v1.events.list({"limit": 100}).data]
    # The same events a page of two at a time (the cursor read from the store's order, not a scan).
    paged = [e.id for e in client.v1.events.list({"limit": 2}).auto_paging_iter()]
    assert paged == everything and len(paged) >= 5
    newest = client.v1.events.list({"limit": 1})
    assert newest.has_more and newest.data[0].id == everything[0]
    created = [e.created for e in client.v1.events.list({"limit": 100}).data]
    since = [e.id for e in client.v1.events.list({"created": {"gte": created[0] + 1}, "limit": 100}).data]
    assert since == []
    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.events.list({"starting_after": "evt_missing"})
    assert "No such object: 'evt_missing'" in str(bad.value)


def test_outage_and_fail_next(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    with sandbox.outage():
        with pytest.raises(stripe.APIError) as down:
            client.v1.customers.list()
        assert down.value.http_status == 503
    client.v1.customers.list()
    with sandbox.outage(refuse=True), pytest.raises(stripe.APIConnectionError):
        client.v1.customers.list()
    client.v1.customers.list()
    sandbox.set_latency(60)
    started = time.monotonic()
    client.v1.customers.list({"limit": 1})
    assert time.monotonic() - started >= 0.06
    sandbox.set_latency(0)
    sandbox.fail_next(1)
    with pytest.raises(stripe.APIError):
        client.v1.customers.list()
    client.v1.customers.list()


def test_cors_preflight_and_publishable_key(sandbox: SandboxServer) -> None:
    preflight = requests.options(
        f"{sandbox.url}/v1/payment_methods", headers={"Origin": "http://x"}, timeout=5
    )
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    publishable = sandbox.client("pk_test_sandbox")
    pm = publishable.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2040, "cvc": "314"},
        }
    )
    si = sandbox.client().v1.setup_intents.create({})
    with pytest.raises(stripe.InvalidRequestError):
        publishable.v1.setup_intents.retrieve(si.id)
    confirmed = publishable.v1.setup_intents.confirm(
        si.id, {"client_secret": si.client_secret, "payment_method": pm.id}
    )
    assert confirmed.status == "succeeded"


@pytest.mark.parametrize("mode", ["shuffled", "duplicates", "delayed"])
def test_delivery_modes_deliver_the_same_events(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, mode: str
) -> None:
    sandbox.set_delivery(mode, delay_seconds=0.2)
    customers = [client.v1.customers.create({"email": f"{mode}{i}@x.test"}).id for i in range(6)]
    sandbox.flush_events()
    created = [e for e in receiver.of_type("customer.created")]
    got = [e["data"]["object"]["id"] for e in created]
    assert set(got) == set(customers)
    if mode == "duplicates":
        assert len(got) == 2 * len(customers)
    else:
        assert len(got) == len(customers)
    assert receiver.bad_signatures == 0


def test_failed_deliveries_are_retried(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver
) -> None:
    receiver.fail_next = 2
    customer = client.v1.customers.create({"email": "retry@x.test"})
    stats = sandbox.flush_events()
    assert stats["pending"] == 0
    assert wait_until(lambda: "customer.created" in receiver.types(customer.id))
    assert receiver.hits >= 3


def test_stripe_js_style_params_and_reset(sandbox: SandboxServer, client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "raw@x.test", "payment_method": "pm_card_visa"})
    http = sandbox.http_session("sk_test_raw")
    raw = http.get(
        f"{sandbox.url}/v1/customers/{customer.id}/payment_methods",
        params=[("expand[]", "data.customer"), ("limit", "1")],
        timeout=5,
    ).json()
    assert raw["data"][0]["customer"]["id"] == customer.id
    form = http.post(
        f"{sandbox.url}/v1/customers/{customer.id}",
        data={
            "metadata[a]": "1",
            "address[city]": "Lyon",
            "expand[]": "invoice_settings.default_payment_method",
        },
        timeout=5,
    ).json()
    assert form["metadata"] == {"a": "1"} and form["address"]["city"] == "Lyon"


def test_reset_forgets_everything() -> None:
    # A throwaway sandbox: reset must not wipe the shared one other tests use.
    with SandboxServer() as fresh:
        other = fresh.client()
        customer = other.v1.customers.create({}, {"idempotency_key": "k1"})
        fresh.advance(days=3)
        fresh.reset()
        with pytest.raises(stripe.InvalidRequestError):
            other.v1.customers.retrieve(customer.id)
        again = other.v1.customers.create({}, {"idempotency_key": "k1"})
        assert again.id != customer.id
        assert abs(fresh.now() - time.time()) < 5


def test_no_webhook_url_records_events_only() -> None:
    with SandboxServer(webhook_url=None) as quiet:
        customer = quiet.client().v1.customers.create({"email": "quiet@x.test"})
        events = quiet.events("customer.created")
        assert [e["data"]["object"]["id"] for e in events] == [customer.id]
        assert events[0]["pending_webhooks"] == 0
        assert quiet.flush_events()["delivered"] == 0


def test_a_products_features_are_an_empty_list_and_an_unknown_product_is_404(
    client: stripe.StripeClient,
) -> None:
    """https://docs.stripe.com/api/product-feature/list: dj-stripe lists them when it syncs a product;
    the sandbox has no Entitlements, so the list is empty, and a product it does not know is 404."""
    product = client.v1.products.create({"name": "Features"})
    features = client.v1.products.features.list(product.id)
    assert features.object == "list" and features.data == [] and features.has_more is False
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.products.features.list("prod_nope")
    assert unknown.value.http_status == 404 and unknown.value.code == "resource_missing"
