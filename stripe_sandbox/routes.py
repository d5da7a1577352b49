"""Every ``/v1`` endpoint: thin adapters from (params, path ids) to the resource modules."""

from __future__ import annotations

from typing import Any

from stripe_sandbox import api as api_module
from stripe_sandbox import billing, catalog, payments
from stripe_sandbox.api import api, check_client_secret, created_filter, paginate
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request, missing_param, not_found
from stripe_sandbox.params import to_int

Obj = dict[str, Any]


def _live(sb: Sandbox, object_id: str, object_type: str, label: str) -> Obj:
    obj = sb.get(object_id)
    if obj is None or obj.get("object") != object_type:
        raise not_found(label, object_id)
    return obj


# customers -----------------------------------------------------------------------------------


@api("POST", "/v1/customers")
def customers_create(sb: Sandbox, p: Obj) -> Obj:
    return payments.create_customer(sb, p)


@api("GET", "/v1/customers/search")
def customers_search(sb: Sandbox, p: Obj) -> Obj:
    query = p.get("query")
    if not query:
        raise missing_param("query")
    found = [c for c in sb.all("customer") if not c.get("deleted") and payments.search_matches(c, query)]
    return api_module.search_result(found, p, "/v1/customers/search")


@api("GET", "/v1/customers/<cid>")
def customers_retrieve(sb: Sandbox, p: Obj, cid: str) -> Obj:
    customer = sb.get(cid)
    if customer is None or customer.get("object") != "customer":
        raise not_found("customer", cid)
    return customer  # a deleted customer retrieves as its deleted stub, like Stripe


@api("POST", "/v1/customers/<cid>")
def customers_update(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return payments.update_customer(sb, cid, p)


@api("DELETE", "/v1/customers/<cid>")
def customers_delete(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return payments.delete_customer(sb, cid)


@api("GET", "/v1/customers")
def customers_list(sb: Sandbox, p: Obj) -> Obj:
    found = [c for c in sb.all("customer") if not c.get("deleted")]
    if p.get("email"):
        found = [c for c in found if c.get("email") == p["email"]]
    if p.get("test_clock"):
        found = [c for c in found if c.get("test_clock") == p["test_clock"]]
    return paginate(created_filter(found, p), p, "/v1/customers")


@api("GET", "/v1/customers/<cid>/payment_methods")
def customer_pms(sb: Sandbox, p: Obj, cid: str) -> Obj:
    sb.require(cid, "customer")
    pms = sb.all("payment_method", customer=cid)
    if p.get("type"):
        pms = [pm for pm in pms if pm["type"] == p["type"]]
    return paginate(pms, p, f"/v1/customers/{cid}/payment_methods")


@api("GET", "/v1/customers/<cid>/payment_methods/<pmid>")
def customer_pm(sb: Sandbox, p: Obj, cid: str, pmid: str) -> Obj:
    pm = sb.get(pmid)
    if pm is None or pm.get("customer") != cid:
        raise not_found("PaymentMethod", pmid)
    return pm


# payment methods -----------------------------------------------------------------------------


@api("POST", "/v1/payment_methods", publishable=True)
def pm_create(sb: Sandbox, p: Obj) -> Obj:
    return payments.create_payment_method(sb, p)


@api("GET", "/v1/payment_methods/<pmid>")
def pm_retrieve(sb: Sandbox, p: Obj, pmid: str) -> Obj:
    return _live(sb, pmid, "payment_method", "PaymentMethod")


@api("POST", "/v1/payment_methods/<pmid>")
def pm_update(sb: Sandbox, p: Obj, pmid: str) -> Obj:
    return payments.update_payment_method(sb, pmid, p)


@api("POST", "/v1/payment_methods/<pmid>/attach")
def pm_attach(sb: Sandbox, p: Obj, pmid: str) -> Obj:
    return payments.attach_payment_method(sb, pmid, p)


@api("POST", "/v1/payment_methods/<pmid>/detach")
def pm_detach(sb: Sandbox, p: Obj, pmid: str) -> Obj:
    return payments.detach_payment_method(sb, pmid)


@api("GET", "/v1/payment_methods")
def pm_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    pms = sb.all("payment_method", customer=cid) if cid else sb.all("payment_method")
    if p.get("type"):
        pms = [pm for pm in pms if pm["type"] == p["type"]]
    return paginate(pms, p, "/v1/payment_methods")


# setup intents -------------------------------------------------------------------------------


@api("POST", "/v1/setup_intents")
def si_create(sb: Sandbox, p: Obj) -> Obj:
    return payments.create_setup_intent(sb, p)


@api("GET", "/v1/setup_intents/<sid>", publishable=True)
def si_retrieve(sb: Sandbox, p: Obj, sid: str) -> Obj:
    si = _live(sb, sid, "setup_intent", "setupintent")
    check_client_secret(si, p)
    return si


@api("POST", "/v1/setup_intents/<sid>")
def si_update(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return payments.update_setup_intent(sb, sid, p)


@api("POST", "/v1/setup_intents/<sid>/confirm", publishable=True)
def si_confirm(sb: Sandbox, p: Obj, sid: str) -> Obj:
    check_client_secret(_live(sb, sid, "setup_intent", "setupintent"), p)
    return payments.confirm_setup_intent(sb, sid, p)


@api("POST", "/v1/setup_intents/<sid>/cancel")
def si_cancel(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return payments.cancel_setup_intent(sb, sid, p)


@api("GET", "/v1/setup_intents")
def si_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    found = sb.all("setup_intent", customer=cid) if cid else sb.all("setup_intent")
    return paginate(created_filter(found, p), p, "/v1/setup_intents")


# payment intents -----------------------------------------------------------------------------


@api("POST", "/v1/payment_intents")
def pi_create(sb: Sandbox, p: Obj) -> Obj:
    return payments.create_payment_intent(sb, p)


@api("GET", "/v1/payment_intents/<pid>", publishable=True)
def pi_retrieve(sb: Sandbox, p: Obj, pid: str) -> Obj:
    pi = _live(sb, pid, "payment_intent", "payment_intent")
    check_client_secret(pi, p)
    return pi


@api("POST", "/v1/payment_intents/<pid>")
def pi_update(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return payments.update_payment_intent(sb, pid, p)


@api("POST", "/v1/payment_intents/<pid>/confirm", publishable=True)
def pi_confirm(sb: Sandbox, p: Obj, pid: str) -> Obj:
    check_client_secret(_live(sb, pid, "payment_intent", "payment_intent"), p)
    return payments.confirm_payment_intent(sb, pid, p)


@api("POST", "/v1/payment_intents/<pid>/cancel")
def pi_cancel(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return payments.cancel_payment_intent(sb, pid, p)


@api("GET", "/v1/payment_intents")
def pi_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    found = sb.all("payment_intent", customer=cid) if cid else sb.all("payment_intent")
    return paginate(created_filter(found, p), p, "/v1/payment_intents")


@api("GET", "/v1/charges/<chid>")
def charge_retrieve(sb: Sandbox, p: Obj, chid: str) -> Obj:
    return _live(sb, chid, "charge", "charge")


@api("GET", "/v1/charges")
def charge_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    found = sb.all("charge", customer=cid) if cid else sb.all("charge")
    if p.get("payment_intent"):
        found = [c for c in found if c["payment_intent"] == p["payment_intent"]]
    return paginate(found, p, "/v1/charges")


@api("POST", "/v1/refunds")
def refund_create(sb: Sandbox, p: Obj) -> Obj:
    from stripe_sandbox import refunds

    return refunds.create_refund(sb, p)


@api("GET", "/v1/refunds/<reid>")
def refund_retrieve(sb: Sandbox, p: Obj, reid: str) -> Obj:
    return _live(sb, reid, "refund", "refund")


@api("GET", "/v1/refunds")
def refund_list(sb: Sandbox, p: Obj) -> Obj:
    from stripe_sandbox import refunds

    return paginate(created_filter(refunds.list_refunds(sb, p), p), p, "/v1/refunds")


# products and prices -------------------------------------------------------------------------


@api("POST", "/v1/products")
def product_create(sb: Sandbox, p: Obj) -> Obj:
    return catalog.create_product(sb, p)


@api("GET", "/v1/products/<prid>")
def product_retrieve(sb: Sandbox, p: Obj, prid: str) -> Obj:
    return _live(sb, prid, "product", "product")


@api("POST", "/v1/products/<prid>")
def product_update(sb: Sandbox, p: Obj, prid: str) -> Obj:
    return catalog.update_product(sb, prid, p)


@api("GET", "/v1/products")
def product_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(catalog.list_products(sb, p), p, "/v1/products")


@api("POST", "/v1/prices")
def price_create(sb: Sandbox, p: Obj) -> Obj:
    return catalog.create_price(sb, p)


@api("GET", "/v1/prices/<prid>")
def price_retrieve(sb: Sandbox, p: Obj, prid: str) -> Obj:
    return _live(sb, prid, "price", "price")


@api("POST", "/v1/prices/<prid>")
def price_update(sb: Sandbox, p: Obj, prid: str) -> Obj:
    return catalog.update_price(sb, prid, p)


@api("GET", "/v1/prices")
def price_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(catalog.list_prices(sb, p), p, "/v1/prices")


# subscriptions -------------------------------------------------------------------------------


@api("POST", "/v1/subscriptions")
def sub_create(sb: Sandbox, p: Obj) -> Obj:
    return billing.create_subscription(sb, p)


@api("GET", "/v1/subscriptions/<sid>")
def sub_retrieve(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return _live(sb, sid, "subscription", "subscription")


@api("POST", "/v1/subscriptions/<sid>")
def sub_update(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return billing.update_subscription(sb, sid, p)


@api("DELETE", "/v1/subscriptions/<sid>")
def sub_cancel(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return billing.cancel_subscription(sb, sid, p)


@api("POST", "/v1/subscriptions/<sid>/resume")
def sub_resume(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return billing.resume_subscription(sb, sid, p)


@api("GET", "/v1/subscriptions")
def sub_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(created_filter(billing.list_subscriptions(sb, p), p), p, "/v1/subscriptions")


@api("GET", "/v1/subscription_items/<siid>")
def sub_item_retrieve(sb: Sandbox, p: Obj, siid: str) -> Obj:
    for sub in sb.all("subscription"):
        for item in sub["items"]["data"]:
            if item["id"] == siid:
                return item
    raise not_found("subscription_item", siid)


@api("GET", "/v1/subscription_items")
def sub_item_list(sb: Sandbox, p: Obj) -> Obj:
    if not p.get("subscription"):
        raise missing_param("subscription")
    sub = sb.require(p["subscription"], "subscription", "subscription")
    return paginate(sub["items"]["data"], p, "/v1/subscription_items")


# invoices ------------------------------------------------------------------------------------


@api("POST", "/v1/invoices/create_preview")
def invoice_preview(sb: Sandbox, p: Obj) -> Obj:
    return billing.preview_invoice(sb, p)


@api("POST", "/v1/invoices")
def invoice_create(sb: Sandbox, p: Obj) -> Obj:
    return billing.create_invoice(sb, p)


@api("GET", "/v1/invoices/<iid>")
def invoice_retrieve(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return _live(sb, iid, "invoice", "invoice")


@api("POST", "/v1/invoices/<iid>")
def invoice_update(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return billing.update_invoice(sb, iid, p)


@api("GET", "/v1/invoices/<iid>/lines")
def invoice_lines(sb: Sandbox, p: Obj, iid: str) -> Obj:
    invoice = _live(sb, iid, "invoice", "invoice")
    return paginate(invoice["lines"]["data"], p, f"/v1/invoices/{iid}/lines")


@api("POST", "/v1/invoices/<iid>/pay")
def invoice_pay(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return billing.pay_invoice(sb, iid, p)


@api("POST", "/v1/invoices/<iid>/finalize")
def invoice_finalize(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return billing.finalize_invoice(sb, iid, p)


@api("POST", "/v1/invoices/<iid>/void")
def invoice_void(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return billing.void_invoice(sb, iid)


@api("POST", "/v1/invoices/<iid>/mark_uncollectible")
def invoice_uncollectible(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return billing.mark_uncollectible(sb, iid)


@api("GET", "/v1/invoices")
def invoice_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(created_filter(billing.list_invoices(sb, p), p), p, "/v1/invoices")


@api("GET", "/v1/invoice_payments")
def invoice_payments(sb: Sandbox, p: Obj) -> Obj:
    if not p.get("invoice"):
        raise missing_param("invoice")
    invoice = _live(sb, p["invoice"], "invoice", "invoice")
    return paginate(invoice["payments"]["data"], p, "/v1/invoice_payments")


@api("POST", "/v1/invoiceitems")
def ii_create(sb: Sandbox, p: Obj) -> Obj:
    return billing.create_invoice_item(sb, p)


@api("GET", "/v1/invoiceitems/<iiid>")
def ii_retrieve(sb: Sandbox, p: Obj, iiid: str) -> Obj:
    return _live(sb, iiid, "invoiceitem", "invoiceitem")


@api("DELETE", "/v1/invoiceitems/<iiid>")
def ii_delete(sb: Sandbox, p: Obj, iiid: str) -> Obj:
    return billing.delete_invoice_item(sb, iiid)


@api("GET", "/v1/invoiceitems")
def ii_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    found = sb.all("invoiceitem", customer=cid) if cid else sb.all("invoiceitem")
    if p.get("invoice"):
        found = [ii for ii in found if ii.get("invoice") == p["invoice"]]
    if p.get("pending") in ("true", True):
        found = [ii for ii in found if ii.get("invoice") is None]
    return paginate(found, p, "/v1/invoiceitems")


# events --------------------------------------------------------------------------------------


@api("GET", "/v1/events/<eid>")
def event_retrieve(sb: Sandbox, p: Obj, eid: str) -> Obj:
    return _live(sb, eid, "event", "event")


@api("GET", "/v1/events")
def event_list(sb: Sandbox, p: Obj) -> Obj:
    events = sb.all("event")
    if p.get("type"):
        wanted = p["type"]
        if wanted.endswith(".*"):
            events = [e for e in events if e["type"].startswith(wanted[:-1])]
        else:
            events = [e for e in events if e["type"] == wanted]
    types = p.get("types")
    if types:
        events = [e for e in events if e["type"] in (types if isinstance(types, list) else [types])]
    return paginate(created_filter(events, p), p, "/v1/events")


# test clocks ---------------------------------------------------------------------------------


@api("POST", "/v1/test_helpers/test_clocks")
def clock_create(sb: Sandbox, p: Obj) -> Obj:
    from stripe_sandbox import shapes

    if "frozen_time" not in p:
        raise missing_param("frozen_time")
    clock = sb.blank(shapes.TEST_CLOCK, "clock")
    clock["frozen_time"] = to_int(p["frozen_time"], "frozen_time")
    clock["deletes_after"] = clock["frozen_time"] + 30 * billing.DAY
    clock["name"] = p.get("name") or None
    clock["status"] = "ready"
    clock["status_details"] = {}
    return sb.save(clock)


@api("GET", "/v1/test_helpers/test_clocks/<clid>")
def clock_retrieve(sb: Sandbox, p: Obj, clid: str) -> Obj:
    return _live(sb, clid, "test_helpers.test_clock", "test_clock")


@api("GET", "/v1/test_helpers/test_clocks")
def clock_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(sb.all("test_helpers.test_clock"), p, "/v1/test_helpers/test_clocks")


@api("POST", "/v1/test_helpers/test_clocks/<clid>/advance")
def clock_advance(sb: Sandbox, p: Obj, clid: str) -> Obj:
    """The sandbox has one clock; a test clock moves it by the same amount its own time moves."""
    clock = _live(sb, clid, "test_helpers.test_clock", "test_clock")
    if "frozen_time" not in p:
        raise missing_param("frozen_time")
    target = to_int(p["frozen_time"], "frozen_time")
    if target < clock["frozen_time"]:
        raise invalid_request("The test clock can only move forward.", param="frozen_time")
    billing.advance_clock(sb, target - clock["frozen_time"])
    clock["frozen_time"] = target
    clock["status"] = "ready"
    sb.save(clock)
    sb.emit("test_helpers.test_clock.ready", clock)
    return clock


@api("DELETE", "/v1/test_helpers/test_clocks/<clid>")
def clock_delete(sb: Sandbox, p: Obj, clid: str) -> Obj:
    _live(sb, clid, "test_helpers.test_clock", "test_clock")
    stub = {"id": clid, "object": "test_helpers.test_clock", "deleted": True}
    sb.save(stub, "deleted")
    return stub


# checkout and billing portal -----------------------------------------------------------------


@api("POST", "/v1/checkout/sessions")
def checkout_create(sb: Sandbox, p: Obj) -> Obj:
    from stripe_sandbox import checkout

    return checkout.create_session(sb, p)


@api("GET", "/v1/checkout/sessions/<csid>")
def checkout_retrieve(sb: Sandbox, p: Obj, csid: str) -> Obj:
    return _live(sb, csid, "checkout.session", "checkout.session")


@api("GET", "/v1/checkout/sessions/<csid>/line_items")
def checkout_line_items(sb: Sandbox, p: Obj, csid: str) -> Obj:
    from stripe_sandbox import checkout

    session = _live(sb, csid, "checkout.session", "checkout.session")
    return paginate(
        checkout.session_line_items(sb, session)["data"], p, f"/v1/checkout/sessions/{csid}/line_items"
    )


@api("POST", "/v1/checkout/sessions/<csid>/expire")
def checkout_expire(sb: Sandbox, p: Obj, csid: str) -> Obj:
    from stripe_sandbox import checkout

    return checkout.expire_session(sb, csid)


@api("GET", "/v1/checkout/sessions")
def checkout_list(sb: Sandbox, p: Obj) -> Obj:
    found = sb.all("checkout.session")
    for key in ("customer", "subscription", "payment_intent", "status"):
        if p.get(key):
            found = [s for s in found if s.get(key) == p[key]]
    return paginate(found, p, "/v1/checkout/sessions")


@api("POST", "/v1/billing_portal/sessions")
def portal_session_create(sb: Sandbox, p: Obj) -> Obj:
    from stripe_sandbox import checkout

    return checkout.create_portal_session(sb, p)
