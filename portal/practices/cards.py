"""The practice's cards: the wallet component on the practice's Stripe customer, each change audited."""

from __future__ import annotations

from portal.extensions import db
from portal.gateway import subscriptions as stripe_subscriptions
from portal.practices import audit
from portal.practices.customers import (
    ensure_practice_customer,
)
from portal.practices.members import require_manager
from portal.practices.models import (
    Practice,
)
from portal.practices.subscriptions import apply_fresh_subscription
from portal.users.models import User
from portal.wallet import services as wallet
from portal.wallet.models import PaymentMethod, SavedCard


def practice_wallet(practice: Practice) -> wallet.Wallet:
    """The practice's cards; the default card is protected while a subscription bills it."""
    return wallet.Wallet(
        customer_id=ensure_practice_customer(practice),
        owner=("practice", practice.id),
        protects_default_card=practice.subscription_live,
    )


def add_card(practice: Practice, setup_intent_id: str, actor: User) -> PaymentMethod:
    """Mirror the card Stripe.js saved to the practice's customer, and audit it."""
    require_manager(practice, actor)
    card = wallet.complete_card_setup(practice_wallet(practice), setup_intent_id)
    audit.record(practice, "card_added", f"{card.brand} {card.last4}", actor_id=actor.id)
    db.session.commit()
    return card


def remove_card(practice: Practice, payment_method_id: str, actor: User) -> SavedCard | None:
    """Detach one of the practice's cards (not the default of a live subscription), and audit it;
    the card that became the default, if it changed."""
    require_manager(practice, actor)
    new_default = wallet.remove_card(practice_wallet(practice), payment_method_id)
    audit.record(practice, "card_removed", payment_method_id, actor_id=actor.id)
    db.session.commit()
    return new_default


def make_default_card(practice: Practice, payment_method_id: str, actor: User) -> None:
    """The customer's default card, and the subscription's, so renewals charge it."""
    require_manager(practice, actor)
    wallet.make_default(practice_wallet(practice), payment_method_id)
    if practice.subscription_live:
        subscription = stripe_subscriptions.update_subscription(
            practice.stripe_subscription_id,
            {"default_payment_method": payment_method_id},
            key=("default-pm", practice.stripe_subscription_id, payment_method_id),
        )
        apply_fresh_subscription(subscription)
    audit.record(practice, "default_card_changed", payment_method_id, actor_id=actor.id)
    db.session.commit()
