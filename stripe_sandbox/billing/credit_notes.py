"""Credit notes (``/v1/credit_notes``): lowering what a finalized invoice asks, or giving back what it
was paid, as Stripe does.

A credit note on an open invoice (``pre_payment``) lowers what is left to pay; on a paid invoice
(``post_payment``) it splits its ``amount`` into ``refund_amount`` (Stripe refunds the invoice's
charge: ``charge.refunded`` and ``refund.created``), ``credit_amount`` (the customer's balance) and
``out_of_band_amount``. The invoice's ``amount_paid`` never changes; its
``post_payment_credit_notes_amount`` (or ``pre_payment_credit_notes_amount``) adds the note up.
``credit_note.created`` follows; voiding sends ``credit_note.voided``.
"""

from __future__ import annotations

from typing import Any

from stripe_sandbox import refunds
from stripe_sandbox.billing.invoices import invoice_payment_intent
from stripe_sandbox.core import Sandbox
from stripe_sandbox.currencies import format_amount
from stripe_sandbox.errors import invalid_request
from stripe_sandbox.params import as_list, metadata_update, to_int
from stripe_sandbox.payments.balance import record_change

REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")
#: A credit note's reason -> the reason of the refund it makes (Stripe's refund reasons are fewer).
REFUND_REASONS = {"duplicate": "duplicate", "fraudulent": "fraudulent"}


def _int(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if value in (None, ""):
        return 0
    amount = to_int(value, name)
    if amount < 0:
        raise invalid_request("This value must be greater than or equal to 0.", param=name)
    return amount


def _lines(invoice: dict[str, Any], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The credit note's lines from ``lines``: an invoice line (all, ``quantity`` of it, or
    ``amount``) or a custom line (``unit_amount`` x ``quantity``)."""
    by_id = {line["id"]: line for line in invoice["lines"]["data"]}
    lines = []
    for index, line in enumerate(as_list(params.get("lines"))):
        param = f"lines[{index}]"
        if not isinstance(line, dict):
            raise invalid_request("Invalid array", param="lines")
        quantity = to_int(line.get("quantity") or 1, f"{param}[quantity]")
        if line.get("type") == "invoice_line_item":
            source = by_id.get(line.get("invoice_line_item") or "")
            if source is None:
                raise invalid_request(
                    f"No such invoice line item: '{line.get('invoice_line_item')}'",
                    param=f"{param}[invoice_line_item]",
                )
            unit = source["amount"] // max(source.get("quantity") or 1, 1)
            given = line.get("amount") not in (None, "")
            amount = _int(line, "amount") if given else unit * quantity
            description = source.get("description")
            # An amount typed is what to credit; a quantity credits the line as it was charged.
            discounts = [] if given else _line_discounts(source, amount)
        elif line.get("type") == "custom_line_item":
            unit = to_int(line.get("unit_amount"), f"{param}[unit_amount]")
            amount = unit * quantity
            description = line.get("description") or None
            source, discounts = None, []
        else:
            raise invalid_request(
                "Invalid type: must be one of custom_line_item or invoice_line_item", param=f"{param}[type]"
            )
        lines.append(
            {
                "amount": amount,
                "description": description,
                "discount_amounts": discounts,
                "invoice_line_item": source["id"] if source else None,
                "quantity": quantity,
                "type": line["type"],
                "unit_amount": unit,
            }
        )
    return lines


def _line_discounts(source: dict[str, Any], amount: int) -> list[dict[str, Any]]:
    """The invoice line's discounts in the share of it credited (``amount`` of the line's amount):
    a discounted line is credited for what was charged for it, never more."""
    whole = source["amount"]
    if whole <= 0:
        return []
    out = []
    for entry in source.get("discount_amounts") or []:
        share = min(entry["amount"] * amount // whole, entry["amount"])
        if share:
            out.append({"amount": share, "discount": entry["discount"]})
    return out


def _creditable(invoice: dict[str, Any]) -> tuple[str, int]:
    """``(type, how much more can be credited)`` for a finalized invoice."""
    if invoice["status"] == "paid":
        return "post_payment", invoice["amount_paid"] - invoice["post_payment_credit_notes_amount"]
    if invoice["status"] == "open":
        return "pre_payment", invoice["amount_remaining"]
    raise invalid_request(
        f"You can only create a credit note for an open or paid invoice; invoice {invoice['id']} is "
        f"{invoice['status']}.",
        param="invoice",
    )


def _refundable(sb: Sandbox, invoice: dict[str, Any]) -> tuple[dict[str, Any] | None, int]:
    pi = invoice_payment_intent(sb, invoice)
    charge = sb.get((pi or {}).get("latest_charge") or "")
    if pi is None or charge is None or pi["status"] != "succeeded":
        return None, 0
    return pi, charge["amount_captured"] - charge["amount_refunded"]


def _split(sb: Sandbox, invoice: dict[str, Any], note_type: str, amount: int, params: dict[str, Any]) -> dict:
    """``refund_amount``, ``credit_amount`` and ``out_of_band_amount``, checked as Stripe checks them."""
    money = invoice["currency"]
    refund, credit, out_of_band = (
        _int(params, k) for k in ("refund_amount", "credit_amount", "out_of_band_amount")
    )
    if note_type == "pre_payment":
        if refund or credit or out_of_band:
            raise invalid_request(
                "refund_amount, credit_amount and out_of_band_amount can only be set on a credit note "
                f"for a paid invoice; invoice {invoice['id']} has not been paid.",
                param="refund_amount" if refund else "credit_amount" if credit else "out_of_band_amount",
            )
        return {"refund": 0, "credit": 0, "out_of_band": 0}
    if not (refund or credit or out_of_band):
        credit = amount  # Stripe's default for a paid invoice: the customer's balance
    if refund + credit + out_of_band != amount:
        raise invalid_request(
            f"The sum of credit_amount, refund_amount and out_of_band_amount "
            f"({format_amount(refund + credit + out_of_band, money)}) must equal the credit note amount "
            f"({format_amount(amount, money)}).",
        )
    _, refundable = _refundable(sb, invoice)
    if refund > refundable:
        raise invalid_request(
            f"The refund_amount ({format_amount(refund, money)}) is greater than the amount left to refund "
            f"on the invoice's payment ({format_amount(refundable, money)}).",
            param="refund_amount",
            code="amount_too_large",
        )
    return {"refund": refund, "credit": credit, "out_of_band": out_of_band}


def build_credit_note(sb: Sandbox, params: dict[str, Any], prefix: str = "cn") -> dict[str, Any]:
    """The credit note ``params`` ask for, checked, not yet saved or applied (the preview's answer)."""
    invoice = sb.require(params.get("invoice"), "invoice", "invoice")
    note_type, creditable = _creditable(invoice)
    lines = _lines(invoice, params)
    discount = sum(d["amount"] for line in lines for d in line["discount_amounts"])
    subtotal = sum(line["amount"] for line in lines)
    if lines:
        amount = subtotal - discount
    elif params.get("amount") not in (None, ""):
        amount = to_int(params["amount"], "amount")
    else:
        raise invalid_request("One of `amount`, `lines`, or `shipping_cost` must be provided.")
    if amount <= 0:
        raise invalid_request("The credit note amount must be greater than 0.", param="amount")
    if amount > creditable:
        raise invalid_request(
            f"The credit note amount ({format_amount(amount, invoice['currency'])}) cannot exceed the "
            f"invoice's remaining creditable amount ({format_amount(creditable, invoice['currency'])}).",
            param="amount",
            code="amount_too_large",
        )
    reason = params.get("reason") or None
    if reason is not None and reason not in REASONS:
        raise invalid_request(f"Invalid reason: must be one of {', '.join(REASONS)}", param="reason")
    split = _split(sb, invoice, note_type, amount, params)
    note_id = sb.new_id(prefix)
    seq = len(sb.all("credit_note", lambda n: n["invoice"] == invoice["id"])) + 1
    return {
        "id": note_id,
        "object": "credit_note",
        "amount": amount,
        "amount_shipping": 0,
        "created": sb.now(),
        "currency": invoice["currency"],
        "customer": invoice["customer"],
        "customer_account": None,
        "customer_balance_transaction": None,
        "discount_amount": discount,
        "discount_amounts": _note_discounts(lines),
        "effective_at": sb.now(),
        "invoice": invoice["id"],
        "lines": {
            "object": "list",
            "data": [_line_object(sb, line) for line in lines],
            "has_more": False,
            "total_count": len(lines),
            "url": f"/v1/credit_notes/{note_id}/lines",
        },
        "livemode": False,
        "memo": params.get("memo") or None,
        "metadata": metadata_update({}, params.get("metadata", {})),
        "number": f"{invoice.get('number') or invoice['id']}-CN-{seq:02d}",
        "out_of_band_amount": split["out_of_band"] or None,
        "pdf": f"{sb.public_url}/credit_notes/{note_id}/pdf",
        "post_payment_amount": amount if note_type == "post_payment" else 0,
        "pre_payment_amount": amount if note_type == "pre_payment" else 0,
        "pretax_credit_amounts": [],
        "reason": reason,
        "refunds": [],
        "shipping_cost": None,
        "status": "issued",
        "subtotal": subtotal if lines else amount,
        "subtotal_excluding_tax": subtotal if lines else amount,
        "total": amount,
        "total_excluding_tax": amount,
        "total_taxes": [],
        "type": note_type,
        "voided_at": None,
        "__split": split,
    }


def _line_object(sb: Sandbox, line: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sb.new_id("cnli"),
        "object": "credit_note_line_item",
        "amount": line["amount"],
        "description": line["description"],
        "discount_amount": sum(d["amount"] for d in line["discount_amounts"]),
        "discount_amounts": line["discount_amounts"],
        "invoice_line_item": line["invoice_line_item"],
        "livemode": False,
        "metadata": {},
        "pretax_credit_amounts": [],
        "quantity": line["quantity"],
        "tax_rates": [],
        "taxes": [],
        "type": line["type"],
        "unit_amount": line["unit_amount"],
        "unit_amount_decimal": str(line["unit_amount"]),
    }


def _note_discounts(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    totals: dict[str, int] = {}
    for line in lines:
        for entry in line["discount_amounts"]:
            totals[entry["discount"]] = totals.get(entry["discount"], 0) + entry["amount"]
    return [{"amount": amount, "discount": discount} for discount, amount in totals.items()]


def preview_credit_note(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/credit_notes/preview``: the note as it would be, nothing saved, nothing sent."""
    note = build_credit_note(sb, params, prefix="cnp")
    note.pop("__split")
    return note


def create_credit_note(sb: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/credit_notes``: the note, its refund and balance credit, the invoice's totals."""
    note = build_credit_note(sb, params)
    split = note.pop("__split")
    invoice = sb.require(note["invoice"], "invoice", "invoice")
    if split["refund"]:
        pi, _ = _refundable(sb, invoice)
        refund_params: dict[str, Any] = {"payment_intent": pi["id"], "amount": split["refund"]}
        if REFUND_REASONS.get(note["reason"] or ""):
            refund_params["reason"] = REFUND_REASONS[note["reason"]]
        refund = refunds.create_refund(sb, refund_params)
        note["refunds"] = [
            {
                "amount_refunded": refund["amount"],
                "payment_record_refund": None,
                "refund": refund["id"],
                "type": "refund",
            }
        ]
    if split["credit"]:
        customer = sb.require(invoice["customer"], "customer", "customer")
        customer["balance"] -= split["credit"]
        sb.save(customer)
        txn = record_change(sb, customer, -split["credit"], "credit_note", invoice=invoice["id"])
        txn["credit_note"] = note["id"]
        sb.save(txn)
        note["customer_balance_transaction"] = txn["id"]
    key = (
        "post_payment_credit_notes_amount"
        if note["type"] == "post_payment"
        else "pre_payment_credit_notes_amount"
    )
    invoice[key] += note["amount"]
    if note["type"] == "pre_payment":
        invoice["amount_remaining"] -= note["amount"]
    sb.save(note)
    sb.save(invoice)
    sb.emit("credit_note.created", note)
    return note


def void_credit_note(sb: Sandbox, note_id: str) -> dict[str, Any]:
    """``POST /v1/credit_notes/{id}/void``: only an issued note that gave no money back."""
    note = sb.require(note_id, label="credit_note")
    if note["status"] == "void":
        raise invalid_request(f"Credit note {note_id} has already been voided.")
    if note["refunds"] or note.get("customer_balance_transaction"):
        raise invalid_request(
            f"You cannot void credit note {note_id}: it refunded a payment or credited the balance."
        )
    invoice = sb.require(note["invoice"], "invoice", "invoice")
    key = (
        "post_payment_credit_notes_amount"
        if note["type"] == "post_payment"
        else "pre_payment_credit_notes_amount"
    )
    invoice[key] -= note["amount"]
    if note["type"] == "pre_payment" and invoice["status"] == "open":
        invoice["amount_remaining"] += note["amount"]
    note["status"] = "void"
    note["voided_at"] = sb.now()
    sb.save(invoice)
    sb.save(note)
    sb.emit("credit_note.voided", note)
    return note


def list_credit_notes(sb: Sandbox, params: dict[str, Any]) -> list[dict[str, Any]]:
    notes = sb.all("credit_note", customer=params.get("customer") or None)
    if params.get("invoice"):
        notes = [n for n in notes if n["invoice"] == params["invoice"]]
    return notes
