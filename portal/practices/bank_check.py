"""The bank's check (3-D Secure) of a practice invoice's payment, run on the portal's own page.

Pay now tries the payment off-session first (``subscriptions.pay_open_invoice``); when the bank
wants the payer (``BankCheckNeeded``), or the banner's "Complete authentication" is pressed, the
manager lands on the page these functions serve, as Pay's and Cashier's payment pages do: Stripe.js
confirms the invoice's PaymentIntent with its client secret (the invoice's ``confirmation_secret``)
and the default card, runs the bank's challenge, then the page posts back and ``finish`` reads the
invoice from Stripe again. Stripe's events say the same later; applying twice changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.extensions import db
from portal.gateway import invoices as stripe_invoices
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import BillingError
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict, invoice_intent, object_id
from portal.practices import audit, errors, invoice_mirror, mirror
from portal.practices.errors import PracticeError, PracticeNotFound
from portal.practices.history import invoice_of
from portal.practices.members import require_manager
from portal.practices.models import Practice, PracticeInvoice
from portal.practices.notifications import decline_reason
from portal.text import N_
from portal.users.models import User
from portal.wallet.models import PaymentMethod

log = logging.getLogger(__name__)

#: The challenge failed (the bank's "Fail", or closed): nothing was charged.
#: (English: ``finish`` answers with them; the page says them with ``stored_words``.)
NOT_CONFIRMED = N_(
    "Your bank did not confirm the payment, so nothing was charged. Try again, "
    "or add another card on the Billing tab, make it the default and pay with it."
)
#: Back on the page with the check not done (no JavaScript, or it was closed before the end).
NOT_DONE = N_("The payment is not confirmed yet. Press “Confirm with my bank” to try again.")
#: The bank confirmed and Stripe has not yet marked the invoice paid (it does within moments).
CONFIRMED_PENDING = N_("Your bank confirmed the payment. The invoice shows as paid in a moment.")
NO_CARD = N_("Add a card first, then pay the invoice.")


class CannotConfirm(PracticeError):
    """Nothing the page can confirm: no card, no payment at Stripe, an invoice no longer payable."""


@dataclass(frozen=True)
class BankCheck:
    """What the page shows and Stripe.js needs: the invoice, its client secret, the card to pay with."""

    invoice: PracticeInvoice
    client_secret: str
    card: PaymentMethod


def _invoice(practice: Practice, invoice_id: str, actor: User) -> PracticeInvoice:
    """The invoice to confirm, under the rules Pay now keeps: a manager's, of an open practice, one the
    practice still collects (not one an ended subscription left, even while Stripe has it open)."""
    require_manager(practice, actor)
    invoice = invoice_of(practice, invoice_id)
    if invoice is None:  # another practice's invoice is no invoice here: the same 404 as an unknown one
        raise PracticeNotFound()
    if practice.deactivated:
        raise CannotConfirm(errors.CLOSED, status=409)
    if invoice.status == "open" and not practice.collects(invoice):
        raise CannotConfirm(errors.NOT_COLLECTED, status=409)
    return invoice


def default_card(practice: Practice) -> PaymentMethod | None:
    return db.session.scalar(
        sa.select(PaymentMethod).where(
            PaymentMethod.customer_id == practice.stripe_customer_id, PaymentMethod.is_default.is_(True)
        )
    )


def start(practice: Practice, invoice_id: str, actor: User) -> BankCheck | None:
    """The check to run for the invoice; None when there is nothing to confirm (Stripe has it paid
    or void: the mirror now says so)."""
    invoice = _invoice(practice, invoice_id, actor)
    fetched = stripe_invoices.invoice_to_confirm(invoice.stripe_id)
    found = as_dict(fetched)
    if found.get("status") != "open":
        _apply(practice, fetched)
        return None
    secret = (found.get("confirmation_secret") or {}).get("client_secret")
    if not secret:
        raise CannotConfirm(_("Stripe has no payment to confirm for this invoice. Use Pay now instead."))
    card = default_card(practice)
    if card is None:
        raise CannotConfirm(NO_CARD)
    return BankCheck(invoice=invoice, client_secret=secret, card=card)


def finish(practice: Practice, invoice_id: str, actor: User) -> str | None:
    """After Stripe.js: the invoice read again from Stripe and mirrored. None when it is paid, else
    what went wrong in words (``NOT_CONFIRMED``, a decline's reason, ``NOT_DONE``)."""
    invoice = _invoice(practice, invoice_id, actor)
    fetched = stripe_invoices.invoice_to_confirm(invoice.stripe_id)
    found = as_dict(fetched)
    intent = invoice_intent(found)
    if found.get("status") == "paid":
        card = _card(object_id(intent.get("payment_method")))
        audit.record(practice, "paid_now", f"{invoice.stripe_id}{card}", actor_id=actor.id)
        _apply(practice, fetched)
        return None
    _apply(practice, fetched)
    if found.get("status") != "open":
        raise CannotConfirm(_("This invoice can no longer be paid."))
    if intent.get("status") in ("succeeded", "processing"):
        return CONFIRMED_PENDING
    return failure_words(intent)


def paid_words(practice: Practice, invoice_id: str) -> str | None:
    """ "Invoice X is paid." once the mirror has it paid, else None."""
    invoice = invoice_of(practice, invoice_id)
    if invoice is None or invoice.status != "paid":
        return None
    return _("Invoice %(number)s is paid. Thank you!", number=invoice.number or invoice.stripe_id)


def nothing_to_pay_words(practice: Practice, invoice_id: str) -> str | None:
    """Why a void or uncollectible invoice (a link from an older email) has nothing to confirm."""
    invoice = invoice_of(practice, invoice_id)
    if invoice is None or invoice.status not in ("void", "uncollectible"):
        return None
    number = invoice.number or invoice.stripe_id
    if invoice.status == "void":
        return _("Invoice %(number)s was voided: there is nothing to pay.", number=number)
    return _("Invoice %(number)s is not collected: there is nothing to pay.", number=number)


def failure_words(intent: dict) -> str:
    error = intent.get("last_payment_error") or {}
    if str(error.get("code") or "").endswith("authentication_failure"):
        return NOT_CONFIRMED
    if error and intent.get("status") == "requires_payment_method":
        return decline_reason(error)
    return NOT_DONE


def _card(payment_method_id: str | None) -> str:
    row = db.session.scalar(sa.select(PaymentMethod).where(PaymentMethod.stripe_id == payment_method_id))
    return f" with {row.brand} {row.last4}" if row is not None else ""


def _apply(practice: Practice, fetched: object) -> None:
    """Mirror the invoice as Stripe has it (paid: as its ``invoice.paid`` would), then the
    subscription it moved (past due -> active), on Stripe's clock; commits."""
    paid = as_dict(fetched).get("status") == "paid"
    invoice_mirror.apply_invoice(fetched, stripe_time(fetched), "invoice.paid" if paid else None, fresh=True)
    if paid and practice.stripe_subscription_id:
        try:
            subscription = stripe_subscriptions.retrieve_subscription(practice.stripe_subscription_id)
            mirror.apply_subscription(subscription, stripe_time(subscription), fresh=True)
        except BillingError as error:
            log.warning("could not refresh subscription practice_id=%s: %s", practice.id, error)
    db.session.commit()
