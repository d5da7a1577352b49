"""``/v1`` endpoints for products, prices, subscriptions, invoices, events, test clocks, Checkout and
the billing portal: thin adapters from (params, path ids) to ``catalog``, ``billing`` and ``checkout``."""

from __future__ import annotations

from stripe_sandbox import catalog, checkout
from stripe_sandbox.api.lists import created_filter, paged_in_store, paginate, store_page
from stripe_sandbox.api.routing import Obj, RouteTable, live
from stripe_sandbox.billing import (
    collection,
    common,
    credit_notes,
    discounts,
    invoices,
    lifecycle,
    preview,
    schedules,
    subscriptions,
)
from stripe_sandbox.billing.clock import advance_clock
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request, missing_param, not_found
from stripe_sandbox.params import to_int
from stripe_sandbox.shapes.events import TEST_CLOCK

ROUTES = RouteTable()
#: ``@api(method, rule)`` adds the handler below it to this module's table.
api = ROUTES.route


@api("POST", "/v1/products")
def product_create(sb: Sandbox, p: Obj) -> Obj:
    return catalog.create_product(sb, p)


@api("GET", "/v1/products/<prid>")
def product_retrieve(sb: Sandbox, p: Obj, prid: str) -> Obj:
    return live(sb, prid, "product", "product")


@api("POST", "/v1/products/<prid>")
def product_update(sb: Sandbox, p: Obj, prid: str) -> Obj:
    return catalog.update_product(sb, prid, p)


@api("GET", "/v1/products/<prid>/features")
def product_feature_list(sb: Sandbox, p: Obj, prid: str) -> Obj:
    """The product's entitlement features (https://docs.stripe.com/api/product-feature/list): the
    sandbox has no Entitlements, so a product it knows has none (dj-stripe asks for them when it
    syncs a product)."""
    live(sb, prid, "product", "product")
    return paginate([], p, f"/v1/products/{prid}/features")


@api("GET", "/v1/products")
def product_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(catalog.list_products(sb, p), p, "/v1/products")


@api("POST", "/v1/prices")
def price_create(sb: Sandbox, p: Obj) -> Obj:
    return catalog.create_price(sb, p)


@api("GET", "/v1/prices/<prid>")
def price_retrieve(sb: Sandbox, p: Obj, prid: str) -> Obj:
    return live(sb, prid, "price", "price")


@api("POST", "/v1/prices/<prid>")
def price_update(sb: Sandbox, p: Obj, prid: str) -> Obj:
    return catalog.update_price(sb, prid, p)


@api("GET", "/v1/prices")
def price_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(catalog.list_prices(sb, p), p, "/v1/prices")


@api("POST", "/v1/subscriptions")
def sub_create(sb: Sandbox, p: Obj) -> Obj:
    return subscriptions.create_subscription(sb, p)


@api("GET", "/v1/subscriptions/<sid>")
def sub_retrieve(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return live(sb, sid, "subscription", "subscription")


@api("POST", "/v1/subscriptions/<sid>")
def sub_update(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return subscriptions.update_subscription(sb, sid, p)


@api("DELETE", "/v1/subscriptions/<sid>")
def sub_cancel(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return subscriptions.cancel_now(sb, sid, p)


@api("POST", "/v1/subscriptions/<sid>/resume")
def sub_resume(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return lifecycle.resume_subscription(sb, sid, p)


@api("GET", "/v1/subscriptions")
def sub_list(sb: Sandbox, p: Obj) -> Obj:
    if p.get("status") == "all" and paged_in_store(p, "status"):
        return store_page(sb, "subscription", p, "/v1/subscriptions")
    return paginate(created_filter(lifecycle.list_subscriptions(sb, p), p), p, "/v1/subscriptions")


@api("POST", "/v1/subscription_schedules")
def schedule_create(sb: Sandbox, p: Obj) -> Obj:
    return schedules.create_schedule(sb, p)


@api("GET", "/v1/subscription_schedules/<ssid>")
def schedule_retrieve(sb: Sandbox, p: Obj, ssid: str) -> Obj:
    return live(sb, ssid, "subscription_schedule", "subscription_schedule")


@api("POST", "/v1/subscription_schedules/<ssid>")
def schedule_update(sb: Sandbox, p: Obj, ssid: str) -> Obj:
    live(sb, ssid, "subscription_schedule", "subscription_schedule")
    return schedules.update_schedule(sb, ssid, p)


@api("POST", "/v1/subscription_schedules/<ssid>/release")
def schedule_release(sb: Sandbox, p: Obj, ssid: str) -> Obj:
    live(sb, ssid, "subscription_schedule", "subscription_schedule")
    return schedules.release_schedule(sb, ssid, p)


@api("POST", "/v1/subscription_schedules/<ssid>/cancel")
def schedule_cancel(sb: Sandbox, p: Obj, ssid: str) -> Obj:
    live(sb, ssid, "subscription_schedule", "subscription_schedule")
    return schedules.cancel_schedule(sb, ssid, p)


@api("GET", "/v1/subscription_schedules")
def schedule_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(created_filter(schedules.list_schedules(sb, p), p), p, "/v1/subscription_schedules")


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


@api("POST", "/v1/invoices/create_preview")
def invoice_preview(sb: Sandbox, p: Obj) -> Obj:
    return preview.preview_invoice(sb, p)


@api("POST", "/v1/invoices")
def invoice_create(sb: Sandbox, p: Obj) -> Obj:
    return invoices.create_invoice(sb, p)


@api("GET", "/v1/invoices/<iid>")
def invoice_retrieve(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return live(sb, iid, "invoice", "invoice")


@api("POST", "/v1/invoices/<iid>")
def invoice_update(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return invoices.update_invoice(sb, iid, p)


@api("GET", "/v1/invoices/<iid>/lines")
def invoice_lines(sb: Sandbox, p: Obj, iid: str) -> Obj:
    invoice = live(sb, iid, "invoice", "invoice")
    return paginate(invoice["lines"]["data"], p, f"/v1/invoices/{iid}/lines")


@api("POST", "/v1/invoices/<iid>/pay")
def invoice_pay(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return collection.pay_invoice(sb, iid, p)


@api("POST", "/v1/invoices/<iid>/finalize")
def invoice_finalize(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return collection.finalize_invoice(sb, iid, p)


@api("POST", "/v1/invoices/<iid>/void")
def invoice_void(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return invoices.void_invoice(sb, iid)


@api("POST", "/v1/invoices/<iid>/mark_uncollectible")
def invoice_uncollectible(sb: Sandbox, p: Obj, iid: str) -> Obj:
    return invoices.mark_uncollectible(sb, iid)


@api("GET", "/v1/invoices")
def invoice_list(sb: Sandbox, p: Obj) -> Obj:
    if paged_in_store(p):
        return store_page(sb, "invoice", p, "/v1/invoices")
    return paginate(created_filter(invoices.list_invoices(sb, p), p), p, "/v1/invoices")


@api("GET", "/v1/invoice_payments")
def invoice_payments(sb: Sandbox, p: Obj) -> Obj:
    intent = (p.get("payment") or {}).get("payment_intent") if isinstance(p.get("payment"), dict) else None
    if not p.get("invoice") and not intent:
        raise missing_param("invoice")
    if p.get("invoice"):
        found = live(sb, p["invoice"], "invoice", "invoice")["payments"]["data"]
    else:
        found = [pay for inv in sb.all("invoice") for pay in inv["payments"]["data"]]
    if intent:
        found = [pay for pay in found if pay["payment"].get("payment_intent") == intent]
    if p.get("status"):
        found = [pay for pay in found if pay["status"] == p["status"]]
    return paginate(found, p, "/v1/invoice_payments")


@api("POST", "/v1/credit_notes")
def credit_note_create(sb: Sandbox, p: Obj) -> Obj:
    return credit_notes.create_credit_note(sb, p)


@api("GET", "/v1/credit_notes/preview")
def credit_note_preview(sb: Sandbox, p: Obj) -> Obj:
    return credit_notes.preview_credit_note(sb, p)


@api("GET", "/v1/credit_notes/<cnid>")
def credit_note_retrieve(sb: Sandbox, p: Obj, cnid: str) -> Obj:
    return live(sb, cnid, "credit_note", "credit_note")


@api("POST", "/v1/credit_notes/<cnid>/void")
def credit_note_void(sb: Sandbox, p: Obj, cnid: str) -> Obj:
    return credit_notes.void_credit_note(sb, cnid)


@api("GET", "/v1/credit_notes")
def credit_note_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(created_filter(credit_notes.list_credit_notes(sb, p), p), p, "/v1/credit_notes")


@api("POST", "/v1/invoiceitems")
def ii_create(sb: Sandbox, p: Obj) -> Obj:
    return invoices.create_invoice_item(sb, p)


@api("GET", "/v1/invoiceitems/<iiid>")
def ii_retrieve(sb: Sandbox, p: Obj, iiid: str) -> Obj:
    return live(sb, iiid, "invoiceitem", "invoiceitem")


@api("DELETE", "/v1/invoiceitems/<iiid>")
def ii_delete(sb: Sandbox, p: Obj, iiid: str) -> Obj:
    return invoices.delete_invoice_item(sb, iiid)


@api("GET", "/v1/invoiceitems")
def ii_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    found = sb.all("invoiceitem", customer=cid) if cid else sb.all("invoiceitem")
    if p.get("invoice"):
        found = [ii for ii in found if ii.get("invoice") == p["invoice"]]
    if p.get("pending") in ("true", True):
        found = [ii for ii in found if ii.get("invoice") is None]
    return paginate(found, p, "/v1/invoiceitems")


@api("GET", "/v1/events/<eid>")
def event_retrieve(sb: Sandbox, p: Obj, eid: str) -> Obj:
    return live(sb, eid, "event", "event")


@api("GET", "/v1/events")
def event_list(sb: Sandbox, p: Obj) -> Obj:
    if paged_in_store(p):
        return store_page(sb, "event", p, "/v1/events")
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


@api("POST", "/v1/test_helpers/test_clocks")
def clock_create(sb: Sandbox, p: Obj) -> Obj:
    if "frozen_time" not in p:
        raise missing_param("frozen_time")
    clock = sb.blank(TEST_CLOCK, "clock")
    clock["frozen_time"] = to_int(p["frozen_time"], "frozen_time")
    clock["deletes_after"] = clock["frozen_time"] + 30 * common.DAY
    clock["name"] = p.get("name") or None
    clock["status"] = "ready"
    clock["status_details"] = {}
    return sb.save(clock)


@api("GET", "/v1/test_helpers/test_clocks/<clid>")
def clock_retrieve(sb: Sandbox, p: Obj, clid: str) -> Obj:
    return live(sb, clid, "test_helpers.test_clock", "test_clock")


@api("GET", "/v1/test_helpers/test_clocks")
def clock_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(sb.all("test_helpers.test_clock"), p, "/v1/test_helpers/test_clocks")


@api("POST", "/v1/test_helpers/test_clocks/<clid>/advance")
def clock_advance(sb: Sandbox, p: Obj, clid: str) -> Obj:
    """The sandbox has one clock; a test clock moves it by the same amount its own time moves."""
    clock = live(sb, clid, "test_helpers.test_clock", "test_clock")
    if "frozen_time" not in p:
        raise missing_param("frozen_time")
    target = to_int(p["frozen_time"], "frozen_time")
    if target < clock["frozen_time"]:
        raise invalid_request("The test clock can only move forward.", param="frozen_time")
    advance_clock(sb, target - clock["frozen_time"])
    clock["frozen_time"] = target
    clock["status"] = "ready"
    sb.save(clock)
    sb.emit("test_helpers.test_clock.ready", clock)
    return clock


@api("DELETE", "/v1/test_helpers/test_clocks/<clid>")
def clock_delete(sb: Sandbox, p: Obj, clid: str) -> Obj:
    live(sb, clid, "test_helpers.test_clock", "test_clock")
    stub = {"id": clid, "object": "test_helpers.test_clock", "deleted": True}
    sb.save(stub, "deleted")
    return stub


@api("POST", "/v1/checkout/sessions")
def checkout_create(sb: Sandbox, p: Obj) -> Obj:
    return checkout.create_session(sb, p)


@api("GET", "/v1/checkout/sessions/<csid>")
def checkout_retrieve(sb: Sandbox, p: Obj, csid: str) -> Obj:
    return live(sb, csid, "checkout.session", "checkout.session")


@api("GET", "/v1/checkout/sessions/<csid>/line_items")
def checkout_line_items(sb: Sandbox, p: Obj, csid: str) -> Obj:
    session = live(sb, csid, "checkout.session", "checkout.session")
    return paginate(
        checkout.session_line_items(sb, session)["data"], p, f"/v1/checkout/sessions/{csid}/line_items"
    )


@api("POST", "/v1/checkout/sessions/<csid>/expire")
def checkout_expire(sb: Sandbox, p: Obj, csid: str) -> Obj:
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
    return checkout.create_portal_session(sb, p)


@api("POST", "/v1/coupons")
def coupon_create(sb: Sandbox, p: Obj) -> Obj:
    return discounts.create_coupon(sb, p)


@api("GET", "/v1/coupons/<coid>")
def coupon_retrieve(sb: Sandbox, p: Obj, coid: str) -> Obj:
    return discounts.coupon(sb, coid)


@api("POST", "/v1/coupons/<coid>")
def coupon_update(sb: Sandbox, p: Obj, coid: str) -> Obj:
    return discounts.update_coupon(sb, coid, p)


@api("DELETE", "/v1/coupons/<coid>")
def coupon_delete(sb: Sandbox, p: Obj, coid: str) -> Obj:
    return discounts.delete_coupon(sb, coid)


@api("GET", "/v1/coupons")
def coupon_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(created_filter(discounts.list_coupons(sb), p), p, "/v1/coupons")


@api("POST", "/v1/promotion_codes")
def promotion_code_create(sb: Sandbox, p: Obj) -> Obj:
    return discounts.create_promotion_code(sb, p)


@api("GET", "/v1/promotion_codes/<promoid>")
def promotion_code_retrieve(sb: Sandbox, p: Obj, promoid: str) -> Obj:
    return discounts.promotion_code(sb, promoid)


@api("POST", "/v1/promotion_codes/<promoid>")
def promotion_code_update(sb: Sandbox, p: Obj, promoid: str) -> Obj:
    return discounts.update_promotion_code(sb, promoid, p)


@api("GET", "/v1/promotion_codes")
def promotion_code_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(created_filter(discounts.list_promotion_codes(sb, p), p), p, "/v1/promotion_codes")
