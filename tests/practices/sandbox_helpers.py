"""Driving a practice's billing through the Stripe sandbox, with its events fed to our handlers."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from portal.extensions import db
from portal.gateway.shapes import object_id
from portal.i18n import default_practice_timezone
from portal.practices import cards, plans
from portal.practices.models import Plan, Practice
from portal.wallet import services as wallet
from portal.webhooks.handlers import EVENT_HANDLERS, checkout_session, invoice, subscription

#: The billing address typed on the hosted Checkout page: a practice's first Checkout asks for it
#: (``billing_address_collection: required``), as Stripe's page does.
CHECKOUT_ADDRESS = {
    "address_line1": "12 Nguyen Hue",
    "address_city": "Ho Chi Minh City",
    "address_postal_code": "700000",
    "address_country": "VN",
}


def page_day(practice: Practice, value: dt.datetime) -> str:
    """A day as the practice's pages write it: in its time zone (Ho Chi Minh City's for the
    Vietnamese address Checkout takes here), so a time after 17:00 UTC is the next day there."""
    name = practice.timezone or default_practice_timezone(country=practice.address_country) or "UTC"
    return f"{value.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(name)):%d %b %Y}"


#: The practice's events and their handlers (those that call into ``portal.practices``).
PRACTICE_HANDLER_MODULES = (checkout_session.__name__, invoice.__name__, subscription.__name__)
HANDLERS = {t: h for t, h in EVENT_HANDLERS.items() if h.__module__ in PRACTICE_HANDLER_MODULES}


class Inbox:
    """Stands in for the webhook endpoint: every new sandbox event of one customer, to our handlers.

    Each event is applied once (the inbox's job), then committed (the dispatcher's job).
    """

    def __init__(self, sandbox, customer_id: str) -> None:
        self.sandbox = sandbox
        self.customer_id = customer_id
        self.seen = {event["id"] for event in sandbox.events()}
        self.applied: list[str] = []

    def deliver(self) -> list[str]:
        applied = []
        for event in self.sandbox.events():
            if event["id"] in self.seen:
                continue
            self.seen.add(event["id"])
            if object_id(event["data"]["object"].get("customer")) != self.customer_id:
                continue
            handler = HANDLERS.get(event["type"])
            if handler is not None:
                handler(event)
                db.session.commit()
                applied.append(event["type"])
        self.applied.extend(applied)
        return applied


def save_card(sandbox, practice: Practice, card: str = "pm_card_visa"):
    """The wallet's add-card flow, with the sandbox client confirming as Stripe.js would."""
    secret = wallet.start_card_setup(cards.practice_wallet(practice))
    intent_id = secret.split("_secret_")[0]
    intent = sandbox.client().v1.setup_intents.confirm(intent_id, {"payment_method": card})
    assert intent.status == "succeeded", intent.status
    return wallet.complete_card_setup(cards.practice_wallet(practice), intent_id)


def renew_on_card(
    sandbox,
    inbox,
    practice: Practice,
    owner,
    card: str = "pm_card_chargeCustomerFail",
    *,
    decline_code: str | None = None,
):
    """The next renewal charged to ``card`` (saved, made the default): a month and Stripe's hour in
    draft go by and its events are applied. With ``decline_code`` the saved card's charges are
    declined for that reason (the sandbox's test hook). The card is returned."""
    saved = save_card(sandbox, practice, card)
    cards.make_default_card(practice, saved.stripe_id, owner)
    if decline_code is not None:
        sandbox.decline_card(saved.stripe_id, decline_code)
    sandbox.advance(days=32)
    inbox.deliver()
    return saved


def subscribe_directly(sandbox, practice: Practice, plan: Plan = Plan.MONTHLY):
    """What Checkout does for the practice: the plan, the onboarding fee on the first invoice."""
    return sandbox.client().v1.subscriptions.create(
        {
            "customer": practice.stripe_customer_id,
            "items": [{"price": plans.price_id(plan.lookup_key)}],
            "add_invoice_items": [{"price": plans.price_id(plans.ONBOARDING_LOOKUP_KEY)}],
            "metadata": {"practiceId": str(practice.id)},
        }
    )
