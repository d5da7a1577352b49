"""Subscribing through Stripe Checkout: starting a session, expiring older ones, the success page."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _

from portal.extensions import db
from portal.gateway import checkout as stripe_checkout
from portal.gateway import payment_methods as stripe_cards
from portal.gateway.errors import BillingError, InvalidRequest, NotFound
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict, object_id
from portal.i18n import current_locale
from portal.practices import audit, checkout_mirror, discounts
from portal.practices.cards import practice_wallet
from portal.practices.customers import (
    ensure_practice_customer,
)
from portal.practices.errors import CLOSED, PracticeError
from portal.practices.members import require_manager
from portal.practices.models import (
    Plan,
    Practice,
)
from portal.practices.plans import currency_of, onboarding_price_id, plan_price_id, trial_days
from portal.text import N_
from portal.users.models import User
from portal.wallet import mirror as card_mirror
from portal.wallet import services as wallet
from portal.wallet.models import PaymentMethod

log = logging.getLogger(__name__)


#: The first subscription's Checkout asks for the billing address and (optionally) a tax ID and
#: writes them to the practice's customer; with an existing customer Stripe needs
#: ``customer_update`` for that (https://docs.stripe.com/tax/checkout/tax-ids#existing-customers).
#: ``checkout_mirror`` then takes them into the billing details.
FIRST_CHECKOUT_COLLECTS = {
    "billing_address_collection": "required",
    "tax_id_collection": {"enabled": True},
    "customer_update": {"address": "auto", "name": "auto"},
}


def awaiting_payment(practice: Practice) -> bool:
    """Back from Checkout, the payment not confirmed yet: the page shows "processing"."""
    return practice.checkout_session_id is not None and practice.billing_status == "REQUIRED"


def start_checkout(practice: Practice, plan: Plan, actor: User, promotion: dict | None = None) -> str:
    """A Checkout session for ``plan`` (plus the onboarding fee until it is paid); returns its URL.
    ``promotion``: a promotion code already resolved (``portal.promotions.codes.resolve_code``),
    passed as the session's ``discounts`` so Checkout shows and charges the discounted amount.

    A double click of one form returns the same session (the view runs it once per form key,
    ``intents``); every new start makes a new session, and the older open ones are expired.
    """
    _refuse_start(practice, actor, promotion)
    customer_id = ensure_practice_customer(practice)
    with_onboarding = practice.onboarding_paid_at is None
    trial = trial_days(plan, practice)
    currency = currency_of(practice)  # the practice's prices: Checkout charges in their currency
    line_items = [{"price": plan_price_id(plan, currency), "quantity": 1}]
    if with_onboarding:
        line_items.append({"price": onboarding_price_id(currency), "quantity": 1})
    success_url = (
        url_for("practices.checkout_return", practice_id=practice.id, _external=True)
        + "?session_id={CHECKOUT_SESSION_ID}"
    )
    metadata = {
        "practiceId": str(practice.id),
        "plan": plan.value,
        "onboarding": "1" if with_onboarding else "0",
        "startedAt": str(time.time_ns()),  # orders checkouts started within one second
        **({"promotionCode": promotion["code"]} if promotion else {}),  # History's words once paid
    }
    session = stripe_checkout.create_subscription_session(
        {
            "customer": customer_id,
            "client_reference_id": str(practice.id),
            "line_items": line_items,
            "metadata": metadata,
            # The subscription keeps when its checkout started: of two paid within one second
            # (Stripe's times are whole seconds), ``duplicates`` keeps the one started first.
            "subscription_data": {
                "metadata": {"practiceId": str(practice.id), "startedAt": metadata["startedAt"]},
                # The first subscription's free trial: the onboarding fee is charged now, the plan
                # when the trial ends (Stripe's first invoice charges only the one-time items).
                **({"trial_period_days": trial} if trial else {}),
            },
            "success_url": success_url,
            "cancel_url": url_for("practices.billing", practice_id=practice.id, _external=True),
            "locale": current_locale(),  # Checkout's page in the person's language ("vi", "en")
            **(FIRST_CHECKOUT_COLLECTS if with_onboarding else {}),
            **({"discounts": [{"promotion_code": promotion["id"]}]} if promotion else {}),
        },
        key=(customer_id, plan.value, practice.checkout_generation, metadata["startedAt"]),
    )
    # The code is said in History when the Checkout completes (``checkout_mirror``): only then is it used.
    audit.record(
        practice, "checkout_started", f"{plan.record_label}, session {session.id}", actor_id=actor.id
    )
    db.session.commit()
    expire_older_checkouts(customer_id, session)
    return session.url


def _refuse_start(practice: Practice, actor: User, promotion: dict | None) -> None:
    """Who may start a Checkout, and when: a manager, of an open practice with no live subscription,
    with a code the practice has not used yet."""
    require_manager(practice, actor)
    if practice.deactivated:
        raise PracticeError(CLOSED, status=409)
    if practice.subscription_live and practice.subscription_status != "incomplete":
        raise PracticeError(_("This practice already has a subscription."))
    refusal = discounts.used_code_refusal(practice, promotion["code"]) if promotion else None
    if refusal is not None:
        raise PracticeError(refusal, status=422)


def expire_older_checkouts(customer_id: str, session: object) -> None:
    """Only the newest Checkout of a practice can be paid: the older open ones are expired.

    Two tabs starting at once each expire only what started before their own session (our
    clock's nanoseconds in its metadata, then the id), so exactly the newest stays open. One
    paid in the meantime cannot be expired; ``duplicates`` then cancels the second subscription.
    """
    mine = _started(session)
    try:
        open_sessions = stripe_checkout.list_open_sessions(customer_id)
    except BillingError as error:
        log.warning("could not list open checkouts customer=%s: %s", customer_id, error)
        return
    for other in open_sessions:
        if other.id == session.id or other.mode != "subscription" or _started(other) > mine:
            continue
        try:
            stripe_checkout.expire_session(other.id)
        except BillingError as error:  # paid or expired meanwhile, or Stripe unreachable
            log.info("could not expire checkout %s: %s", other.id, error)


def _started(session: object) -> tuple[int, str]:
    started = str((as_dict(session).get("metadata") or {}).get("startedAt") or "")
    return (int(started) if started.isdigit() else int(session.created) * 10**9, session.id)


#: The return page's answer to a session id Stripe does not know (typed or stale).
UNKNOWN_CHECKOUT = N_(
    "We could not find that checkout at Stripe, so nothing was paid. Choose a plan to subscribe."
)

#: The status poll's answer when the checkout it waited on turned out unpaid (expired or unknown).
CHECKOUT_ENDED = N_("That checkout ended without a payment. Choose a plan to subscribe.")


class UnknownCheckout(PracticeError):
    status = 404
    code = "unknown_checkout"

    def __init__(self) -> None:
        super().__init__(UNKNOWN_CHECKOUT)


def complete_checkout(practice: Practice, session_id: str) -> Practice:
    """The success page: retrieve the session and run the same fulfilment as the webhook.

    Only a session Stripe knows, made for this practice (its metadata) and its customer, moves
    anything; one that is not paid (open, expired) or unknown ends "processing" for that id.
    """
    try:
        fetched = stripe_checkout.retrieve_session(session_id)
    except (NotFound, InvalidRequest) as unknown:
        _stop_processing(practice, session_id)
        raise UnknownCheckout() from unknown
    stripe_now = stripe_time(fetched)  # Stripe's clock, the clock of its events (ours may run behind)
    session = as_dict(fetched)
    if not _started_for(practice, session):
        raise PracticeError(_("That checkout belongs to another practice."), status=404)
    if session.get("status") == "complete":
        checkout_mirror.fulfil_checkout_session(session, stripe_now, fresh=True)
        if isinstance(session.get("subscription"), dict):  # a promotion code's discount, if any
            discounts.refresh_discounts(practice, session["subscription"])
        practice.checkout_session_id = session["id"]
        db.session.commit()
        _adopt_checkout_card(practice, session, stripe_now)
    elif session.get("status") == "expired":
        _stop_processing(practice, session_id)  # nothing is coming
    return practice


def _started_for(practice: Practice, session: dict) -> bool:
    """Made by ``start_checkout`` for this practice: its metadata and its customer say so."""
    metadata = session.get("metadata") or {}
    customer = object_id(session.get("customer"))
    return str(metadata.get("practiceId")) == str(practice.id) and customer == practice.stripe_customer_id


def _stop_processing(practice: Practice, session_id: str) -> None:
    if practice.checkout_session_id == session_id:
        practice.checkout_session_id = None
        db.session.commit()


def refresh_processing(practice: Practice) -> Practice:
    """While "processing": look at the checkout session again (webhooks may be slow or absent);
    an id Stripe does not know, or one that expired unpaid, ends it (rows stuck on one heal here)."""
    if awaiting_payment(practice):
        try:
            complete_checkout(practice, practice.checkout_session_id)
        except (BillingError, UnknownCheckout) as error:
            log.info("checkout refresh failed practice_id=%s: %s", practice.id, error)
        except PracticeError as error:  # another practice's session: never ours to wait for
            log.warning("practice_id=%s waited on a foreign checkout: %s", practice.id, error)
            _stop_processing(practice, practice.checkout_session_id)
    return practice


def _adopt_checkout_card(practice: Practice, session: dict, stripe_now: int) -> None:
    """Mirror the card paid with at Checkout and make it the customer's default."""
    subscription = session.get("subscription")
    card_id = (
        object_id(as_dict(subscription).get("default_payment_method"))
        if isinstance(subscription, dict)
        else None
    )
    try:
        for payment_method in stripe_cards.list_payment_methods(practice.stripe_customer_id):
            card_mirror.upsert_payment_method(payment_method, synced_at=stripe_now)
        db.session.commit()
        if card_id and db.session.scalar(
            sa.select(PaymentMethod.id).where(PaymentMethod.stripe_id == card_id)
        ):
            wallet.make_default(practice_wallet(practice), card_id)
    except (BillingError, wallet.WalletError) as error:
        log.warning("could not mirror the checkout card practice_id=%s: %s", practice.id, error)
