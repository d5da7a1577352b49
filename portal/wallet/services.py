"""Wallet operations for any Stripe customer: a user's own, or a practice's.

Every action first checks that the card belongs to the wallet's customer in
our mirror, so another customer's card id answers "not found" and Stripe is
never called for it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.customers.models import PendingCustomerDeletion
from portal.customers.users import ensure_user_customer
from portal.errors import UserError
from portal.extensions import db
from portal.gateway import payment_methods as stripe_cards
from portal.gateway.errors import AlreadyAttached, BillingError
from portal.gateway.errors import NotFound as StripeNotFound
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict, object_id
from portal.users.models import User
from portal.wallet import mirror
from portal.wallet.models import PaymentMethod, SavedCard

log = logging.getLogger(__name__)


class WalletError(UserError):
    """A refusal the person can act on."""

    code = "wallet_error"


class CardNotFound(UserError):
    """No such card in this wallet; also the answer for another customer's card, so nothing tells a
    person whose card an id is. Not a ``WalletError`` (a message shown in the wallet): like every
    refusal of a missing thing it goes to the app's ``UserError`` handler (404 page, API envelope,
    or for htmx the page's messages)."""

    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__(_("That card was not found."))


class DefaultCardInUse(WalletError):
    status = 409
    code = "default_card_in_use"

    def __init__(self) -> None:
        super().__init__(
            _(
                "This is the default card for an active subscription. Add another card and make it "
                "the default before removing this one."
            )
        )


@dataclass(frozen=True)
class Wallet:
    """The cards of one Stripe customer."""

    customer_id: str
    #: Our owner of the customer, for idempotency keys: ("user", <stripe_ref>) or ("practice", ...).
    owner: tuple[str, str]
    #: An active subscription bills the default card, so it cannot be removed.
    protects_default_card: bool = False


def user_wallet(user: User) -> Wallet:
    """The user's wallet; creates a missing customer (raises if Stripe is down)."""
    return Wallet(customer_id=ensure_user_customer(user), owner=("user", user.stripe_ref))


#: Cards shown before "Show all": the page costs the same with 1 card or 50.
CARDS_SHOWN = 5


_cards = PaymentMethod.__table__.c
#: Built once: the account and billing pages render this list on every request. Table columns
#: only: one mapped attribute would make it an ORM statement, which costs twice as much to run.
_CARDS = (
    sa.select(*(_cards[name] for name in SavedCard._fields))
    .where(_cards.customer_id == sa.bindparam("customer_id"))
    .order_by(_cards.is_default.desc(), _cards.created_at, _cards.id)
)
_FIRST_CARDS = _CARDS.limit(sa.bindparam("limit"))


def list_cards(customer_id: str | None, limit: int | None = None) -> list[SavedCard]:
    """Cards from the local mirror, default first: no Stripe call."""
    if customer_id is None:
        return []
    if limit is None:
        rows = db.session.execute(_CARDS, {"customer_id": customer_id})
    else:
        rows = db.session.execute(_FIRST_CARDS, {"customer_id": customer_id, "limit": limit})
    return [SavedCard._make(row) for row in rows]


def find_card(wallet: Wallet, payment_method_id: str) -> PaymentMethod:
    card = db.session.scalar(
        sa.select(PaymentMethod).where(
            PaymentMethod.stripe_id == payment_method_id, PaymentMethod.customer_id == wallet.customer_id
        )
    )
    if card is None:
        raise CardNotFound()
    return card


def start_card_setup(wallet: Wallet) -> str:
    """A SetupIntent for the card element; returns its client secret."""
    attempt = secrets.token_hex(8)  # one per "Add card" form, so a re-post reuses it
    intent = stripe_cards.create_setup_intent(wallet.customer_id, key=(*wallet.owner, attempt))
    return intent.client_secret


def complete_card_setup(wallet: Wallet, setup_intent_id: str) -> PaymentMethod:
    """After Stripe.js confirmed the SetupIntent: mirror the saved card."""
    intent = as_dict(stripe_cards.retrieve_setup_intent(setup_intent_id))
    if object_id(intent.get("customer")) != wallet.customer_id:
        raise CardNotFound()
    if intent.get("status") != "succeeded":
        raise WalletError(_("The card was not confirmed. Please try again."))
    return _save_attached_card(wallet, intent["payment_method"])


def attach_card(wallet: Wallet, payment_method_id: str) -> PaymentMethod:
    """Attach a payment method created by Stripe.js (the JSON API's path).

    A card saved to another customer (ours, or one only Stripe knows) answers exactly as an id that
    names no card, so the answer tells nobody which ids exist or whose they are."""
    existing = db.session.scalar(sa.select(PaymentMethod).where(PaymentMethod.stripe_id == payment_method_id))
    if existing is not None and existing.customer_id != wallet.customer_id:
        raise CardNotFound()
    try:
        payment_method = stripe_cards.attach_payment_method(wallet.customer_id, payment_method_id)
    except (StripeNotFound, AlreadyAttached):
        raise CardNotFound() from None
    return _save_attached_card(wallet, payment_method)


def _save_attached_card(wallet: Wallet, payment_method: object) -> PaymentMethod:
    if isinstance(payment_method, str):
        payment_method = stripe_cards.retrieve_payment_method(payment_method)
    pm = as_dict(payment_method)
    if object_id(pm.get("customer")) != wallet.customer_id:
        raise WalletError(_("The card could not be saved. Please try again."))
    mirror.upsert_payment_method(pm, synced_at=stripe_time(payment_method))
    card = find_card(wallet, pm["id"])
    is_first = not db.session.scalar(
        sa.select(sa.func.count(PaymentMethod.id)).where(
            PaymentMethod.customer_id == wallet.customer_id, PaymentMethod.is_default.is_(True)
        )
    )
    db.session.commit()
    if is_first:
        make_default(wallet, card.stripe_id)
    return card


def make_default(wallet: Wallet, payment_method_id: str) -> PaymentMethod:
    card = find_card(wallet, payment_method_id)
    customer = stripe_cards.set_default_payment_method(wallet.customer_id, payment_method_id)
    mirror.apply_customer(customer, synced_at=stripe_time(customer))
    db.session.commit()
    db.session.refresh(card)
    return card


def remove_card(wallet: Wallet, payment_method_id: str) -> SavedCard | None:
    """Detach a card; when it was the default, the card that becomes the default (else None)."""
    card = find_card(wallet, payment_method_id)
    if card.is_default and wallet.protects_default_card:
        raise DefaultCardInUse()
    was_default = card.is_default
    detached = stripe_cards.detach_payment_method(payment_method_id)
    mirror.remove_payment_method(payment_method_id, synced_at=stripe_time(detached))
    db.session.commit()
    if was_default:
        # Keep a default while cards remain, so the next charge knows which to use.
        remaining = list_cards(wallet.customer_id)
        chargeable = [saved for saved in remaining if not saved.expired] or remaining  # an expired one fails
        if chargeable:
            try:
                make_default(wallet, chargeable[-1].stripe_id)
                return chargeable[-1]._replace(is_default=True)
            except BillingError as error:
                log.warning(
                    "could not promote a new default card customer_id=%s: %s", wallet.customer_id, error
                )
    return None


def removal_message(new_default: SavedCard | None) -> str:
    """What removing a card says: which card the next charge uses, when the default changed."""
    if new_default is None:
        return _("Card removed.")
    return _(
        "Card removed. %(brand)s ending %(last4)s is the default card now.",
        brand=new_default.brand.capitalize(),
        last4=new_default.last4,
    )


def forget_customer(customer_id: str) -> None:
    """In the caller's transaction: drop the customer's mirrored cards and queue its deletion
    (``portal.customers.lifecycle.delete_queued_customer`` finishes it)."""
    db.session.execute(sa.delete(PaymentMethod).where(PaymentMethod.customer_id == customer_id))
    db.session.merge(PendingCustomerDeletion(customer_id=customer_id))
