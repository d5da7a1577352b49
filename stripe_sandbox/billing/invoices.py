"""Invoices: building one from lines and pending items, drafts, items, updates, void, uncollectible."""

from __future__ import annotations

import copy
from typing import Any

from stripe_sandbox.billing.common import claim_currency, customer_pm, list_object
from stripe_sandbox.billing.discounts import active_discounts, after_invoice, apply_discounts, drop_ended
from stripe_sandbox.billing.lifecycle import subscription_of
from stripe_sandbox.billing.lines import ii_line, new_invoice_item, pending_items
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import invalid_request, missing_param
from stripe_sandbox.params import metadata_update, to_bool, to_int
from stripe_sandbox.payments.balance import record_change
from stripe_sandbox.payments.common import diff
from stripe_sandbox.payments.tax_ids import invoice_tax_ids
from stripe_sandbox.shapes.invoices import INVOICE


def customer_snapshot(sb: Sandbox, customer: dict[str, Any]) -> dict[str, Any]:
    """The customer's details an invoice carries: they follow the customer while the invoice is a
    draft and are frozen when it is finalized (https://docs.stripe.com/api/invoices/object)."""
    address = customer.get("address")
    return {
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "customer_phone": customer.get("phone"),
        "customer_address": dict(address) if address else None,
        "customer_shipping": customer.get("shipping") or None,
        "customer_tax_ids": invoice_tax_ids(sb, customer["id"]) if customer.get("id") else [],
    }


def build_invoice(
    sb: Sandbox,
    customer: dict[str, Any],
    sub: dict[str, Any] | None,
    billing_reason: str,
    lines: list[dict[str, Any]],
    items: list[dict[str, Any]],
    period: tuple[int, int],
    *,
    include_pending: bool = True,
    save: bool = True,
    discounts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A draft invoice; ``save=False`` builds a preview that touches nothing. ``discounts``: those
    that apply (default: the subscription's that still last now)."""
    invoice = sb.blank(INVOICE, "in")
    if not save:
        invoice["id"] = "upcoming_" + invoice["id"]
    if include_pending and save:
        seen = {ii["id"] for ii in items}
        items = items + [
            ii for ii in pending_items(sb, customer["id"], sub["id"] if sub else None) if ii["id"] not in seen
        ]
    all_lines = [*lines, *(ii_line(ii) for ii in items)]
    for line in all_lines:
        line["id"] = sb.new_id("il")
        line["invoice"] = invoice["id"]
    total = sum(line["amount"] for line in all_lines)
    currency = (sub or {}).get("currency") or (all_lines[0]["currency"] if all_lines else "usd")
    invoice.update(
        {
            "account_country": "US",
            "account_name": "Practice Billing Sandbox",
            "amount_due": max(total, 0),
            "amount_paid": 0,
            "amount_remaining": max(total, 0),
            "attempt_count": 0,
            "attempted": False,
            "billing_reason": billing_reason,
            "currency": currency,
            "customer": customer["id"],
            **customer_snapshot(sb, customer),
            "description": None,
            "discounts": [],
            "ending_balance": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "lines": list_object(all_lines, f"/v1/invoices/{invoice['id']}/lines"),
            "metadata": {},
            "number": None,
            "parent": (
                {
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": dict(sub.get("metadata") or {}),
                        "subscription": sub["id"],
                        "subscription_proration_date": None,
                    },
                    "type": "subscription_details",
                }
                if sub
                else None
            ),
            "payments": list_object([], f"/v1/invoice_payments?invoice={invoice['id']}"),
            "period_start": period[0],
            "period_end": period[1],
            "starting_balance": 0,
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "test_clock": customer.get("test_clock"),
            "total": total,
            "total_discount_amounts": [],
            "total_excluding_tax": total,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "rendering": None,
            "default_payment_method": None,
            "due_date": None,
            "receipt_number": None,
            "latest_revision": None,
            "custom_fields": None,
            "footer": None,
            "account_tax_ids": None,
        }
    )
    applied = discounts if discounts is not None else active_discounts(sb, sub, sb.now())
    if applied:
        off = apply_discounts(sb, invoice, all_lines, applied)
        after = total - off
        invoice.update(
            {
                "amount_due": max(after, 0),
                "amount_remaining": max(after, 0),
                "total": after,
                "total_excluding_tax": after,
            }
        )
    if not save:
        return invoice
    if sub is not None and applied:
        after_invoice(sb, sub, applied)
    if sub is not None:
        drop_ended(sb, sub, sb.now())
    for ii in items:
        ii["invoice"] = invoice["id"]
        sb.save(ii)
    sb.save(invoice)
    if sub is not None:
        sub["latest_invoice"] = invoice["id"]
        sb.save(sub)
    sb.emit("invoice.created", invoice)
    return invoice


def create_invoice(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("customer"):
        raise missing_param("customer")
    customer = sb.require(params["customer"], "customer")
    sub = sb.require(params["subscription"], "subscription") if params.get("subscription") else None
    include = (params.get("pending_invoice_items_behavior") or "exclude") == "include"
    now = sb.now()
    invoice = build_invoice(sb, customer, sub, "manual", [], [], (now, now), include_pending=include)
    if params.get("currency"):
        invoice["currency"] = str(params["currency"]).lower()
    elif not invoice["lines"]["data"] and customer.get("currency"):
        invoice["currency"] = customer["currency"]  # Stripe's default: the customer's currency
    claim_currency(sb, customer["id"], invoice["currency"], "currency")
    if "metadata" in params:
        invoice["metadata"] = metadata_update({}, params["metadata"])
    if "description" in params:
        invoice["description"] = params["description"] or None
    if "auto_advance" in params:
        invoice["auto_advance"] = to_bool(params["auto_advance"], "auto_advance")
    else:
        invoice["auto_advance"] = False
    if params.get("default_payment_method"):
        invoice["default_payment_method"] = customer_pm(
            sb, customer["id"], params["default_payment_method"], "default_payment_method"
        )
    sb.save(invoice)
    return invoice


def _recompute_totals(invoice: dict[str, Any]) -> None:
    subtotal = sum(line["amount"] for line in invoice["lines"]["data"])
    total = subtotal - sum(d["amount"] for d in invoice.get("total_discount_amounts") or [])
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    invoice["subtotal"] = invoice["subtotal_excluding_tax"] = subtotal
    invoice["total"] = invoice["total_excluding_tax"] = total
    invoice["amount_due"] = max(total, 0)
    invoice["amount_remaining"] = max(total, 0) - invoice["amount_paid"]


def create_invoice_item(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("customer"):
        raise missing_param("customer")
    customer = sb.require(params["customer"], "customer")
    sub = sb.require(params["subscription"], "subscription") if params.get("subscription") else None
    price = None
    price_id = params.get("price") or (params.get("pricing") or {}).get("price")
    if price_id:
        price = sb.require(price_id, "price", "price")
    elif "amount" not in params:
        raise missing_param("amount")
    quantity = to_int(params.get("quantity", 1), "quantity")
    amount = to_int(params["amount"], "amount") if "amount" in params else None
    ii = new_invoice_item(
        sb,
        customer["id"],
        sub,
        price=price,
        quantity=quantity,
        amount=amount,
        currency=params.get("currency"),
        description=params.get("description"),
        metadata=metadata_update({}, params.get("metadata", {})),
        emit=False,  # sent below, once it is on its invoice
    )
    claim_currency(sb, customer["id"], ii["currency"], "currency")
    if params.get("invoice"):
        invoice = sb.require(params["invoice"], "invoice", "invoice")
        if invoice["status"] != "draft":
            raise invalid_request("You can only add invoice items to draft invoices.", param="invoice")
        line = ii_line(ii)
        line["id"] = sb.new_id("il")
        line["invoice"] = invoice["id"]
        invoice["lines"]["data"].append(line)
        _recompute_totals(invoice)
        ii["invoice"] = invoice["id"]
        sb.save(ii)
        sb.save(invoice)
    sb.emit("invoiceitem.created", ii)
    return ii


def delete_invoice_item(sb: Sandbox, ii_id: str) -> dict[str, Any]:
    ii = sb.require(ii_id, label="invoiceitem")
    if ii.get("invoice"):
        invoice = sb.get(ii["invoice"])
        if invoice and invoice["status"] != "draft":
            raise invalid_request("This invoice item is on a finalized invoice and can't be deleted.")
    sb.store.delete(ii_id)
    return {"id": ii_id, "object": "invoiceitem", "deleted": True}


def invoice_payment_intent(sb: Sandbox, invoice: dict[str, Any]) -> dict[str, Any] | None:
    for payment in invoice["payments"]["data"]:
        if payment["is_default"]:
            return sb.get(payment["payment"]["payment_intent"])
    return None


def _return_applied_balance(sb: Sandbox, invoice: dict[str, Any]) -> None:
    """The customer balance applied to a voided invoice goes back to the customer (Stripe since
    2019-12-03: https://docs.stripe.com/changelog/2019-12-03/customer-balances-returned-voided-invoices)."""
    applied = int(invoice.get("starting_balance") or 0) - int(invoice.get("ending_balance") or 0)
    customer = sb.get(invoice["customer"]) or {}
    if not applied or customer.get("deleted"):
        return
    before = int(customer.get("balance") or 0)
    customer["balance"] = before + applied
    sb.save(customer)
    record_change(sb, customer, applied, "unapplied_from_invoice", invoice=invoice["id"])
    sb.emit("customer.updated", customer, {"balance": before})


def void_invoice(sb: Sandbox, invoice_id: str) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(
            f"You can only void an open or uncollectible invoice, not a {invoice['status']} one."
        )
    _return_applied_balance(sb, invoice)
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = sb.now()
    invoice["next_payment_attempt"] = None
    invoice["amount_remaining"] = 0
    for payment in invoice["payments"]["data"]:
        if payment["status"] == "open":
            payment["status"] = "canceled"
            payment["status_transitions"]["canceled_at"] = sb.now()
    pi = invoice_payment_intent(sb, invoice)
    if pi and pi["status"] not in ("succeeded", "canceled"):
        pi["status"] = "canceled"
        pi["canceled_at"] = sb.now()
        pi["cancellation_reason"] = "void_invoice"
        pi["next_action"] = None
        sb.save(pi)
    sb.save(invoice)
    sb.emit("invoice.voided", invoice)
    return invoice


def mark_uncollectible(sb: Sandbox, invoice_id: str) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    if invoice["status"] != "open":
        raise invalid_request(
            f"You can only mark an open invoice uncollectible, not a {invoice['status']} one."
        )
    before = {
        "status": invoice["status"],
        "status_transitions": copy.deepcopy(invoice["status_transitions"]),
        "next_payment_attempt": invoice.get("next_payment_attempt"),
    }
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = sb.now()
    invoice["next_payment_attempt"] = None
    sb.save(invoice)
    # As Stripe: the status event, then invoice.updated with what changed.
    sb.emit("invoice.marked_uncollectible", invoice)
    sb.emit("invoice.updated", invoice, {k: v for k, v in before.items() if invoice.get(k) != v})
    return invoice


def update_invoice(sb: Sandbox, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    before = copy.deepcopy(invoice)
    if "metadata" in params:
        invoice["metadata"] = metadata_update(invoice.get("metadata"), params["metadata"])
    if "description" in params:
        invoice["description"] = params["description"] or None
    if "auto_advance" in params:
        invoice["auto_advance"] = to_bool(params["auto_advance"], "auto_advance")
    if "default_payment_method" in params:
        pm_id = params["default_payment_method"]
        invoice["default_payment_method"] = (
            customer_pm(sb, invoice["customer"], pm_id, "default_payment_method") if pm_id else None
        )
    sb.save(invoice)
    changes = diff(before, invoice)
    if changes:
        sb.emit("invoice.updated", invoice, changes)
    return invoice


def list_invoices(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    invoices = sb.all("invoice", customer=params.get("customer") or None)
    if params.get("subscription"):
        invoices = [i for i in invoices if subscription_of(i) == params["subscription"]]
    if params.get("status"):
        invoices = [i for i in invoices if i["status"] == params["status"]]
    if params.get("collection_method"):
        invoices = [i for i in invoices if i["collection_method"] == params["collection_method"]]
    return invoices
