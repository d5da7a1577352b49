"""A populated portal for the access and CSRF figures: an owner's objects, another user, an admin."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa

from portal.auth import api_tokens as tokens
from portal.extensions import db
from portal.practices import invitations, members
from portal.practices.models import MemberRole, Practice, PracticeInvitation
from portal.shop import catalog, purchases
from portal.users.models import Role, User
from portal.wallet import services as wallet
from portal.webhooks.services import store_event
from tests.factories import FailedJobFactory, PracticeInvoiceFactory, PromotionCodeFactory, make_user
from tests.practices.sandbox_helpers import save_card as save_practice_card
from tests.stripe_payloads import make_event, payment_method


@dataclass
class World:
    owner: User
    other: User
    admin: User
    practice: Practice
    #: URL argument -> a value naming one of the owner's objects (or, for ``event_id``, an admin's).
    owned: dict[str, object] = field(default_factory=dict)
    other_token: str = ""


def save_user_card(sandbox, user: User, card: str = "pm_card_visa"):
    client = sandbox.client()
    user_wallet = wallet.user_wallet(user)
    intent = client.v1.setup_intents.create(
        {"customer": user_wallet.customer_id, "allowed_payment_method_types": ["card"]}
    )
    client.v1.setup_intents.confirm(intent.id, {"payment_method": card})
    return wallet.complete_card_setup(user_wallet, intent.id)


def build_world(sandbox) -> World:
    owner = make_user(name="Ada Owner", email="ada@example.com")
    other = make_user(name="Mallory Other", email="mallory@example.com")
    admin = make_user(name="Platform Admin", email="admin@example.com", role=Role.ADMIN)
    colleague = make_user(name="Cole League", email="cole@example.com")
    card = save_user_card(sandbox, owner)
    save_user_card(sandbox, other, "pm_card_mastercard")  # the other user has a wallet of their own

    practice = members.create_practice(owner, "Ada's Clinic")
    practice_card = save_practice_card(sandbox, practice)
    member = members.add_member(practice, colleague.email, MemberRole.MEMBER, owner)
    invitations.invite(practice, "newcomer@example.com", MemberRole.MEMBER, owner)
    invitation = db.session.scalar(sa.select(PracticeInvitation))
    product = catalog.create_product(
        name="Gloves", description="", price=500, currency="usd", stock=3, active=True
    )
    order = purchases.purchase(owner, product.id, 1, card.stripe_id).order
    invoice = PracticeInvoiceFactory(practice=practice, status="open")  # the bank's check names it
    event = make_event("payment_method.attached", payment_method("pm_world", owner.stripe_customer_id))
    event_row_id = store_event(event, json.dumps(event))
    failed_job, promotion_code = FailedJobFactory(), PromotionCodeFactory()  # admin-only objects
    db.session.commit()
    world = World(owner=owner, other=other, admin=admin, practice=practice)
    world.owned = {
        "payment_method_id": card.stripe_id,
        "practice_id": practice.id,
        "member_id": member.id,
        "invitation_id": invitation.id,
        "event_id": event_row_id,
        "user_id": owner.id,
        "order_id": order.id,
        "practice_payment_method_id": practice_card.stripe_id,
        "invoice_id": invoice.stripe_id,
        "job_id": failed_job.id,
        "code_id": promotion_code.id,
    }
    world.other_token = tokens.issue_token(other)
    return world
