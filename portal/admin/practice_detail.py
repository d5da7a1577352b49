"""What a platform admin reads about one practice: the Stripe events that concern it."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.practices.models import Practice, PracticeInvoice
from portal.webhooks.models import WebhookEvent

EVENTS_SHOWN = 50


def stripe_ids_of(practice: Practice) -> set[str]:
    """The Stripe objects an event about this practice names: its customer, subscription, invoices."""
    ids = {practice.stripe_customer_id, practice.stripe_subscription_id, practice.checkout_session_id}
    invoices = sa.select(PracticeInvoice.stripe_id).where(PracticeInvoice.practice_id == practice.id)
    ids.update(db.session.scalars(invoices))
    return {stripe_id for stripe_id in ids if stripe_id}


def events_about(practice: Practice) -> list[WebhookEvent]:
    """The newest webhook events whose object is one of the practice's."""
    return list(
        db.session.scalars(
            sa.select(WebhookEvent)
            .where(WebhookEvent.object_id.in_(stripe_ids_of(practice)))
            .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
            .limit(EVENTS_SHOWN)
        )
    )
