"""Collecting invoices: finalizing, the PaymentIntent that pays one, and what its outcome does."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.billing.common import (
    DAY,
    HARD_DECLINES,
    customer_pm,
    default_pm,
    retry_delays,
    setting,
)
from stripe_sandbox.billing.invoices import customer_snapshot, invoice_payment_intent, mark_uncollectible
from stripe_sandbox.billing.lifecycle import cancel_subscription, set_status, subscription_of
from stripe_sandbox.core import Sandbox
from stripe_sandbox.currencies import minimum_charge
from stripe_sandbox.errors import SandboxError, invalid_request
from stripe_sandbox.params import to_bool
from stripe_sandbox.payments.balance import record_change
from stripe_sandbox.payments.payment_intents import confirm_payment_intent, create_payment_intent
from stripe_sandbox.shapes import blank
from stripe_sandbox.shapes.invoices import INVOICE_PAYMENT


def _invoice_payment(sb: Sandbox, invoice: dict[str, Any], pi: dict[str, Any]) -> dict[str, Any]:
    payment = blank(INVOICE_PAYMENT)
    payment.update(
        {
            "id": sb.new_id("inpay"),
            "amount_paid": None,
            "amount_requested": invoice["amount_due"],
            "created": sb.now(),
            "currency": invoice["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "livemode": False,
            "payment": {
                "charge": None,
                "payment_intent": pi["id"],
                "payment_record": None,
                "type": "payment_intent",
            },
            "status": "open",
            "status_transitions": {"canceled_at": None, "paid_at": None},
        }
    )
    return payment


def _customer_deleted(sb: Sandbox, invoice: dict[str, Any]) -> None:
    invoice["last_finalization_error"] = {
        "advice_code": None,
        "code": "customer_deleted",
        "doc_url": None,
        "message": "The customer was deleted.",
        "param": None,
        "payment_method_type": None,
        "type": "invalid_request_error",
    }
    sb.save(invoice)
    sb.emit("invoice.finalization_failed", invoice)
    raise invalid_request("The invoice's customer was deleted.", code="invoice_finalization_failed")


def finalize_invoice(
    sb: Sandbox, invoice_id: str, params: dict[str, Any], *, apply_balance: bool = True
) -> dict[str, Any]:
    """``apply_balance=False``: a renewal voided at once by a ``void`` pause, which Stripe treats as
    zero-value: the customer's balance is not applied to it."""
    invoice = sb.require(invoice_id, label="invoice")
    if invoice["status"] != "draft":
        raise invalid_request(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
        )
    customer = sb.get(invoice["customer"]) or {}
    if customer.get("deleted"):
        _customer_deleted(sb, invoice)
    now = sb.now()
    if "auto_advance" in params:
        invoice["auto_advance"] = to_bool(params["auto_advance"], "auto_advance")
    sequence = customer.get("next_invoice_sequence", 1)
    invoice["number"] = f"{customer.get('invoice_prefix', 'SANDBOX')}-{sequence:04d}"
    customer["next_invoice_sequence"] = sequence + 1
    sb.save(customer)
    invoice.update(customer_snapshot(sb, customer))  # frozen from now on
    invoice["status"] = "open"
    invoice["status_transitions"]["finalized_at"] = now
    invoice["effective_at"] = now
    invoice["last_finalization_error"] = None
    invoice["hosted_invoice_url"] = f"{sb.public_url}/invoices/{invoice['id']}"
    invoice["invoice_pdf"] = f"{sb.public_url}/invoices/{invoice['id']}/pdf"
    invoice["webhooks_delivered_at"] = now
    if apply_balance:
        apply_customer_balance(sb, invoice, customer)
        carry_small_amount(sb, invoice, customer)
    if invoice["amount_due"] > 0:
        pm_id = invoice.get("default_payment_method") or default_pm(
            sb,
            sb.get(subscription_of(invoice) or "") if subscription_of(invoice) else None,
            invoice["customer"],
        )
        pi_params: dict[str, Any] = {
            "amount": invoice["amount_due"],
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "description": {
                "subscription_create": "Subscription creation",
                "subscription_cycle": "Subscription update",
                "subscription_update": "Subscription update",
            }.get(invoice["billing_reason"], f"Invoice {invoice['number']}"),
        }
        if pm_id:
            pi_params["payment_method"] = pm_id
        pi = create_payment_intent(sb, pi_params, invoice_id=invoice["id"])
        invoice["confirmation_secret"] = {"client_secret": pi["client_secret"], "type": "payment_intent"}
        invoice["payments"]["data"] = [_invoice_payment(sb, invoice, pi)]
        invoice["payments"]["total_count"] = 1
        sb.save(invoice)
        sb.emit("invoice.finalized", invoice)
        return invoice
    sb.save(invoice)
    sb.emit("invoice.finalized", invoice)
    return mark_paid(sb, invoice)


def with_balance(invoice: dict[str, Any], balance: int) -> dict[str, Any]:
    """The invoice's amounts with the customer's ``balance`` applied (previews too)."""
    due = invoice["total"] + balance
    invoice["starting_balance"] = balance
    invoice["ending_balance"] = min(due, 0)
    invoice["amount_due"] = max(due, 0)
    invoice["amount_remaining"] = max(due, 0) - invoice["amount_paid"]
    return invoice


def apply_customer_balance(sb: Sandbox, invoice: dict[str, Any], customer: dict[str, Any]) -> None:
    """A credit (negative balance) lowers what the invoice charges, a debt raises it; what is left of
    a credit, or a negative total (a downgrade billed now), stays on the customer for next time
    (https://docs.stripe.com/billing/customer/balance)."""
    balance = int(customer.get("balance") or 0)
    with_balance(invoice, balance)
    if customer.get("deleted") or customer.get("balance", 0) == invoice["ending_balance"]:
        return
    customer["balance"] = invoice["ending_balance"]
    sb.save(customer)
    # The balance's history line (GET /v1/customers/{id}/balance_transactions) for this invoice.
    record_change(sb, customer, customer["balance"] - balance, "applied_to_invoice", invoice=invoice["id"])
    sb.emit("customer.updated", customer, {"balance": balance})


def carry_small_amount(sb: Sandbox, invoice: dict[str, Any], customer: dict[str, Any]) -> None:
    """An amount due below the currency's minimum charge (13,000 VND, $0.50) is not charged: the
    invoice is paid as it stands and the amount goes to the customer's balance as a debt, which the
    next invoice collects (https://docs.stripe.com/billing/customer/balance; the transaction's type
    is ``invoice_too_small``)."""
    due = int(invoice["amount_due"])
    if not 0 < due < minimum_charge(invoice["currency"]) or customer.get("deleted") or not customer:
        return
    invoice["amount_due"] = 0
    invoice["amount_remaining"] = 0
    invoice["ending_balance"] = int(invoice.get("ending_balance") or 0) + due
    before = int(customer.get("balance") or 0)
    customer["balance"] = before + due
    sb.save(customer)
    record_change(sb, customer, due, "invoice_too_small", invoice=invoice["id"])
    sb.emit("customer.updated", customer, {"balance": before})


def mark_paid(sb: Sandbox, invoice: dict[str, Any]) -> dict[str, Any]:
    now = sb.now()
    invoice["status"] = "paid"
    invoice["amount_paid"] = invoice["amount_due"]
    invoice["amount_remaining"] = 0
    invoice["next_payment_attempt"] = None
    invoice["status_transitions"]["paid_at"] = now
    paid_payments = []
    for payment in invoice["payments"]["data"]:
        if payment["is_default"]:
            payment["status"] = "paid"
            payment["amount_paid"] = invoice["amount_due"]
            payment["status_transitions"]["paid_at"] = now
            paid_payments.append(payment)
    sb.save(invoice)
    for payment in paid_payments:
        sb.emit("invoice_payment.paid", payment)
    sb.emit("invoice.paid", invoice)
    sb.emit("invoice.payment_succeeded", invoice)
    _set_delinquent(sb, invoice["customer"], False)
    sub_id = subscription_of(invoice)
    if sub_id:
        sub = sb.get(sub_id)
        # Only the newest invoice decides: paying an old one while a newer one fails keeps past_due.
        newest = sub is not None and (
            sub.get("latest_invoice") == invoice["id"] or sub["status"] == "incomplete"
        )
        if sub and newest and sub["status"] in ("incomplete", "past_due", "unpaid"):
            set_status(sb, sub, "active")
    return invoice


def on_invoice_payment(sb: Sandbox, invoice_id: str, pi: dict[str, Any]) -> None:
    """Called whenever the invoice's PaymentIntent was confirmed, by anyone (API, Stripe.js, the clock)."""
    invoice = sb.require(invoice_id)
    if invoice["status"] != "open":
        return
    invoice["attempt_count"] += 1
    invoice["attempted"] = True
    sub_id = subscription_of(invoice)
    sub = sb.get(sub_id) if sub_id else None
    if pi["status"] == "succeeded":
        mark_paid(sb, invoice)
        return
    if pi["status"] == "requires_action":
        invoice["next_payment_attempt"] = None
        sb.save(invoice)
        sb.emit("invoice.payment_action_required", invoice)
        if sub and sub["status"] == "active":
            set_status(sb, sub, "past_due")
        return
    record_failure(sb, invoice, (pi.get("last_payment_error") or {}).get("decline_code"))


def _set_delinquent(sb: Sandbox, customer_id: str, delinquent: bool) -> None:
    """``customer.delinquent``: true after an automatic payment fails, false once an invoice is paid
    (https://docs.stripe.com/api/customers/object#customer_object-delinquent)."""
    customer = sb.get(customer_id)
    if customer is None or customer.get("deleted") or bool(customer.get("delinquent")) == delinquent:
        return
    customer["delinquent"] = delinquent
    sb.save(customer)
    sb.emit("customer.updated", customer, {"delinquent": not delinquent})


def record_failure(sb: Sandbox, invoice: dict[str, Any], decline_code: str | None) -> None:
    """A failed attempt: the next retry by the schedule (none after a hard decline), and once no
    retry is left what the settings say (https://docs.stripe.com/billing/revenue-recovery/smart-retries)."""
    now = sb.now()
    previous_attempt = invoice.get("next_payment_attempt")
    delays = retry_delays(sb)
    sub_id = subscription_of(invoice)
    sub = sb.get(sub_id) if sub_id else None
    exhausted = False
    if invoice["billing_reason"] == "subscription_create" or not invoice.get("auto_advance"):
        invoice["next_payment_attempt"] = None
    elif decline_code in HARD_DECLINES:
        # Smart Retries never retries a hard decline; what follows the last retry still happens, at
        # the end of the retry window (https://docs.stripe.com/billing/revenue-recovery/smart-retries).
        invoice["next_payment_attempt"] = None
        first_failure = sb.meta(invoice["id"]).get("first_failed_at") or now
        sb.update_meta(invoice["id"], retry_window_ends_at=first_failure + int(sum(delays) * DAY))
    elif invoice["attempt_count"] <= len(delays):
        invoice["next_payment_attempt"] = now + int(delays[invoice["attempt_count"] - 1] * DAY)
    else:
        invoice["next_payment_attempt"] = None
        exhausted = True
    if not sb.meta(invoice["id"]).get("first_failed_at"):
        sb.update_meta(invoice["id"], first_failed_at=now)
    sb.save(invoice)
    sb.emit("invoice.payment_failed", invoice)
    sb.emit(
        "invoice.updated",
        invoice,
        {"attempt_count": invoice["attempt_count"] - 1, "next_payment_attempt": previous_attempt},
    )
    if invoice.get("auto_advance") and invoice["billing_reason"] != "subscription_create":
        _set_delinquent(sb, invoice["customer"], True)
    if sub is None:
        return
    if exhausted and sub["status"] in ("active", "past_due"):
        after_last_retry(sb, invoice, sub)
    elif sub["status"] == "active":
        set_status(sb, sub, "past_due")


def after_last_retry(sb: Sandbox, invoice: dict[str, Any], sub: dict[str, Any]) -> None:
    """The settings' action once no retry is left: mark uncollectible, then cancel, unpaid or leave."""
    if setting(sb, "mark_uncollectible"):
        mark_uncollectible(sb, invoice["id"])
    policy = setting(sb, "after_failures")
    if policy == "unpaid":
        set_status(sb, sub, "unpaid")
    elif policy == "past_due":
        set_status(sb, sub, "past_due")
    else:
        sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "payment_failed"}
        sb.save(sub)
        cancel_subscription(sb, sub["id"], {})


#: What ``POST /v1/invoices/{id}/pay`` answers when there is no card to charge.
NO_PAYMENT_METHOD_MESSAGE = (
    "This customer has no attached payment source or default payment method. Please consider adding a "
    "default payment method. For more information, visit "
    "https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority."
)


def attempt_payment(sb: Sandbox, invoice_id: str, pm_id: str | None, *, off_session: bool) -> dict[str, Any]:
    """Charge an open invoice. Declines raise (as the API does); the invoice is updated either way."""
    invoice = sb.require(invoice_id)
    pi = invoice_payment_intent(sb, invoice)
    if pi is None:
        return mark_paid(sb, invoice)
    if not pm_id:
        # No card to charge: a failed attempt like any other (the subscription goes past_due).
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        record_failure(sb, invoice, None)
        # Stripe's words, and no code: ``invoice_no_payment_method_types`` means the invoice's
        # payment_settings allow no type at all (https://docs.stripe.com/error-codes). The PaymentIntent
        # stays requires_payment_method with no last_payment_error: nothing was declined.
        raise invalid_request(NO_PAYMENT_METHOD_MESSAGE)
    params: dict[str, Any] = {"payment_method": pm_id, "off_session": "true" if off_session else "false"}
    if pi["status"] == "requires_action":
        # A new attempt replaces the pending authentication.
        pi["status"] = "requires_confirmation"
        sb.save(pi)
    confirm_payment_intent(sb, pi["id"], params)
    return sb.require(invoice_id)


def pay_invoice(sb: Sandbox, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
    invoice = sb.require(invoice_id, label="invoice")
    if invoice["status"] == "draft":
        invoice = finalize_invoice(sb, invoice_id, {})
    if invoice["status"] == "paid":
        raise invalid_request("Invoice is already paid", code="invoice_already_paid")
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(
            f"You can only pay an invoice that is open or uncollectible; this one is {invoice['status']}.",
        )
    if invoice["status"] == "uncollectible":
        invoice["status"] = "open"
        sb.save(invoice)
    if params.get("paid_out_of_band") and to_bool(params["paid_out_of_band"], "paid_out_of_band"):
        return mark_paid(sb, invoice)
    pm_id = None
    if params.get("payment_method"):
        pm_id = customer_pm(sb, invoice["customer"], params["payment_method"], "payment_method")
    else:
        sub = sb.get(subscription_of(invoice) or "") if subscription_of(invoice) else None
        pm_id = invoice.get("default_payment_method") or default_pm(sb, sub, invoice["customer"])
    off_session = to_bool(params.get("off_session", True), "off_session")
    invoice = attempt_payment(sb, invoice_id, pm_id, off_session=off_session)
    if invoice["status"] == "open":
        raise SandboxError(
            402,
            "card_error",
            "This payment requires additional user action before it can be completed successfully. "
            "Payment can be completed using the PaymentIntent associated with the invoice.",
            code="invoice_payment_intent_requires_action",
            keep_changes=True,
        )
    return invoice
