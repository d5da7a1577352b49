"""``/v1`` endpoints for customers, payment methods, setup and payment intents, charges, refunds:
thin adapters from (params, path ids) to ``payments`` and ``refunds``."""

from __future__ import annotations

from stripe_sandbox import refunds
from stripe_sandbox.api.keys import api_key, check_client_secret, raw_card_data_refused
from stripe_sandbox.api.lists import created_filter, paginate, search_result
from stripe_sandbox.api.routing import Obj, RouteTable, live
from stripe_sandbox.billing.customer_deletion import delete_customer
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import missing_param, not_found
from stripe_sandbox.payments import balance
from stripe_sandbox.payments.customers import (
    attach_payment_method,
    create_customer,
    create_payment_method,
    detach_payment_method,
    search_matches,
    update_customer,
    update_payment_method,
)
from stripe_sandbox.payments.payment_intents import (
    cancel_payment_intent,
    confirm_payment_intent,
    create_payment_intent,
    update_payment_intent,
)
from stripe_sandbox.payments.setup_intents import (
    cancel_setup_intent,
    confirm_setup_intent,
    create_setup_intent,
    update_setup_intent,
)
from stripe_sandbox.payments.tax_ids import create_tax_id, customer_tax_ids, delete_tax_id, retrieve_tax_id

ROUTES = RouteTable()
#: ``@api(method, rule)`` adds the handler below it to this module's table.
api = ROUTES.route


@api("POST", "/v1/customers")
def customers_create(sb: Sandbox, p: Obj) -> Obj:
    return create_customer(sb, p)


@api("GET", "/v1/customers/search")
def customers_search(sb: Sandbox, p: Obj) -> Obj:
    query = p.get("query")
    if not query:
        raise missing_param("query")
    found = [c for c in sb.all("customer") if not c.get("deleted") and search_matches(c, query)]
    return search_result(found, p, "/v1/customers/search")


@api("GET", "/v1/customers/<cid>")
def customers_retrieve(sb: Sandbox, p: Obj, cid: str) -> Obj:
    customer = sb.get(cid)
    if customer is None or customer.get("object") != "customer":
        raise not_found("customer", cid)
    return customer  # a deleted customer retrieves as its deleted stub, like Stripe


@api("POST", "/v1/customers/<cid>")
def customers_update(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return update_customer(sb, cid, p)


@api("DELETE", "/v1/customers/<cid>")
def customers_delete(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return delete_customer(sb, cid)


@api("GET", "/v1/customers")
def customers_list(sb: Sandbox, p: Obj) -> Obj:
    found = [c for c in sb.all("customer") if not c.get("deleted")]
    if p.get("email"):
        found = [c for c in found if c.get("email") == p["email"]]
    if p.get("test_clock"):
        found = [c for c in found if c.get("test_clock") == p["test_clock"]]
    return paginate(created_filter(found, p), p, "/v1/customers")


@api("GET", "/v1/customers/<cid>/balance_transactions")
def customer_balance_list(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return paginate(balance.list_transactions(sb, cid), p, f"/v1/customers/{cid}/balance_transactions")


@api("POST", "/v1/customers/<cid>/balance_transactions")
def customer_balance_create(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return balance.create_transaction(sb, cid, p)


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


@api("POST", "/v1/customers/<cid>/tax_ids")
def customer_tax_id_create(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return create_tax_id(sb, cid, p)


@api("GET", "/v1/customers/<cid>/tax_ids")
def customer_tax_id_list(sb: Sandbox, p: Obj, cid: str) -> Obj:
    sb.require(cid, "customer")
    return paginate(customer_tax_ids(sb, cid)[::-1], p, f"/v1/customers/{cid}/tax_ids")


@api("GET", "/v1/customers/<cid>/tax_ids/<tid>")
def customer_tax_id_retrieve(sb: Sandbox, p: Obj, cid: str, tid: str) -> Obj:
    return retrieve_tax_id(sb, cid, tid)


@api("DELETE", "/v1/customers/<cid>/tax_ids/<tid>")
def customer_tax_id_delete(sb: Sandbox, p: Obj, cid: str, tid: str) -> Obj:
    return delete_tax_id(sb, cid, tid)


@api("POST", "/v1/payment_methods", publishable=True)
def pm_create(sb: Sandbox, p: Obj) -> Obj:
    card = p.get("card")
    if isinstance(card, dict) and card.get("number") and not (api_key() or "").startswith("pk_"):
        raise raw_card_data_refused()
    return create_payment_method(sb, p)


@api("GET", "/v1/payment_methods/<pmid>")
def pm_retrieve(sb: Sandbox, p: Obj, pmid: str) -> Obj:
    return live(sb, pmid, "payment_method", "PaymentMethod")


@api("POST", "/v1/payment_methods/<pmid>")
def pm_update(sb: Sandbox, p: Obj, pmid: str) -> Obj:
    return update_payment_method(sb, pmid, p)


@api("POST", "/v1/payment_methods/<pmid>/attach")
def pm_attach(sb: Sandbox, p: Obj, pmid: str) -> Obj:
    return attach_payment_method(sb, pmid, p)


@api("POST", "/v1/payment_methods/<pmid>/detach")
def pm_detach(sb: Sandbox, p: Obj, pmid: str) -> Obj:
    return detach_payment_method(sb, pmid)


@api("GET", "/v1/payment_methods")
def pm_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    pms = sb.all("payment_method", customer=cid) if cid else sb.all("payment_method")
    if p.get("type"):
        pms = [pm for pm in pms if pm["type"] == p["type"]]
    return paginate(pms, p, "/v1/payment_methods")


@api("POST", "/v1/setup_intents")
def si_create(sb: Sandbox, p: Obj) -> Obj:
    return create_setup_intent(sb, p)


@api("GET", "/v1/setup_intents/<sid>", publishable=True)
def si_retrieve(sb: Sandbox, p: Obj, sid: str) -> Obj:
    si = live(sb, sid, "setup_intent", "setupintent")
    check_client_secret(si, p)
    return si


@api("POST", "/v1/setup_intents/<sid>")
def si_update(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return update_setup_intent(sb, sid, p)


@api("POST", "/v1/setup_intents/<sid>/confirm", publishable=True)
def si_confirm(sb: Sandbox, p: Obj, sid: str) -> Obj:
    check_client_secret(live(sb, sid, "setup_intent", "setupintent"), p)
    return confirm_setup_intent(sb, sid, p)


@api("POST", "/v1/setup_intents/<sid>/cancel")
def si_cancel(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return cancel_setup_intent(sb, sid, p)


@api("GET", "/v1/setup_intents")
def si_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    found = sb.all("setup_intent", customer=cid) if cid else sb.all("setup_intent")
    return paginate(created_filter(found, p), p, "/v1/setup_intents")


@api("POST", "/v1/payment_intents")
def pi_create(sb: Sandbox, p: Obj) -> Obj:
    return create_payment_intent(sb, p)


@api("GET", "/v1/payment_intents/<pid>", publishable=True)
def pi_retrieve(sb: Sandbox, p: Obj, pid: str) -> Obj:
    pi = live(sb, pid, "payment_intent", "payment_intent")
    check_client_secret(pi, p)
    return pi


@api("POST", "/v1/payment_intents/<pid>")
def pi_update(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return update_payment_intent(sb, pid, p)


@api("POST", "/v1/payment_intents/<pid>/confirm", publishable=True)
def pi_confirm(sb: Sandbox, p: Obj, pid: str) -> Obj:
    check_client_secret(live(sb, pid, "payment_intent", "payment_intent"), p)
    return confirm_payment_intent(sb, pid, p)


@api("POST", "/v1/payment_intents/<pid>/cancel")
def pi_cancel(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return cancel_payment_intent(sb, pid, p)


@api("GET", "/v1/payment_intents")
def pi_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    found = sb.all("payment_intent", customer=cid) if cid else sb.all("payment_intent")
    return paginate(created_filter(found, p), p, "/v1/payment_intents")


@api("GET", "/v1/charges/<chid>")
def charge_retrieve(sb: Sandbox, p: Obj, chid: str) -> Obj:
    return live(sb, chid, "charge", "charge")


@api("GET", "/v1/charges")
def charge_list(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("customer")
    found = sb.all("charge", customer=cid) if cid else sb.all("charge")
    if p.get("payment_intent"):
        found = [c for c in found if c["payment_intent"] == p["payment_intent"]]
    return paginate(found, p, "/v1/charges")


@api("POST", "/v1/refunds")
def refund_create(sb: Sandbox, p: Obj) -> Obj:
    return refunds.create_refund(sb, p)


@api("GET", "/v1/refunds/<reid>")
def refund_retrieve(sb: Sandbox, p: Obj, reid: str) -> Obj:
    return live(sb, reid, "refund", "refund")


@api("POST", "/v1/refunds/<reid>")
def refund_update(sb: Sandbox, p: Obj, reid: str) -> Obj:
    return refunds.update_refund(sb, reid, p)


@api("GET", "/v1/refunds")
def refund_list(sb: Sandbox, p: Obj) -> Obj:
    return paginate(created_filter(refunds.list_refunds(sb, p), p), p, "/v1/refunds")
