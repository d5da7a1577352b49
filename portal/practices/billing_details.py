"""A practice's billing details (billing email, legal name, address, tax IDs), kept on its Stripe
customer: Stripe prints them on every invoice it finalizes, and on its PDF.

Saving goes to Stripe first and writes locally only once Stripe has everything, so a refusal
(Stripe's ``tax_id_invalid``, or Stripe down) leaves the local details as they were and the form as
typed. Stripe down is refused, not deferred: a tax ID is Stripe's to accept or refuse, and a
deferred save could not tell the person who typed it. Each save compares with the tax IDs Stripe
has (one list call), so one cut short half-way is finished, not doubled, by the next.

Checkout (the first subscription) collects the address and a tax ID too: ``apply_from_checkout``
takes them from the completed session's ``customer_details``, unless the details were saved later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from portal.database import utcnow
from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.gateway.errors import BillingError, InvalidRequest
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict
from portal.practices import audit
from portal.practices.countries import TAX_ID_TYPES, tax_id_label
from portal.practices.customers import ensure_practice_customer, practice_contact
from portal.practices.errors import PracticeError
from portal.practices.members import require_manager
from portal.practices.models import Practice, PracticeTaxId
from portal.users.models import User

log = logging.getLogger(__name__)

ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")


@dataclass(frozen=True)
class BillingDetails:
    """What the form asks for: every field optional; ``new_tax_id`` (type, value) to add, and the
    local ids of the tax IDs to remove."""

    billing_email: str | None = None
    legal_name: str | None = None
    address: dict[str, str | None] = field(default_factory=dict)
    new_tax_id: tuple[str, str] | None = None
    remove_tax_ids: frozenset[int] = frozenset()


class InvalidTaxId(PracticeError):
    """Stripe refused the tax ID's value (``tax_id_invalid``): said under the tax ID field."""

    status = 422
    code = "tax_id_invalid"
    field = "tax_id_value"


def invalid_tax_id_words(tax_type: str, value: str) -> str:
    example = TAX_ID_TYPES.get(tax_type, ("", ""))[1]
    words = f"Stripe did not accept {value} as a {tax_id_label(tax_type)}."
    return f"{words} It looks like {example}." if example else words


def address_of(practice: Practice) -> dict[str, str | None]:
    return {key: getattr(practice, f"address_{key}") for key in ADDRESS_FIELDS}


def save_billing_details(practice: Practice, details: BillingDetails, actor: User) -> None:
    """Stripe's customer first (a new tax ID, then the customer, then the removed tax IDs), then
    the local copy, in one commit. Raises ``InvalidTaxId``, ``NotAllowed`` or a ``BillingError``."""
    require_manager(practice, actor)
    customer_id = ensure_practice_customer(practice)
    at_stripe = {tax_id.id: tax_id for tax_id in stripe_customers.list_tax_ids(customer_id)}
    added = _add_tax_id(practice, customer_id, details.new_tax_id, at_stripe.values())
    try:
        customer = stripe_customers.update_customer(
            customer_id,
            _customer_params(practice, details),
            key=("billing-details", practice.stripe_ref, utcnow().timestamp()),
        )
    except BillingError:
        if added is not None and added.id not in at_stripe:
            _forget_quietly(customer_id, added.id)  # nothing saved half-way
        raise
    if added is not None:
        at_stripe[added.id] = added
    for row in practice.tax_ids:
        if row.id in details.remove_tax_ids:
            for stripe_id in _stripe_ids_of(row, at_stripe.values()):
                stripe_customers.delete_tax_id(customer_id, stripe_id)
                at_stripe.pop(stripe_id, None)
    _apply_locally(practice, details, at_stripe.values(), stripe_time(customer))
    audit.record(practice, "billing_details_changed", _summary(practice), actor_id=actor.id)
    db.session.commit()


def _add_tax_id(practice: Practice, customer_id: str, new: tuple[str, str] | None, existing: Iterable):
    """The new tax ID at Stripe (the one it already has, if the same); None if none was asked."""
    if new is None:
        return None
    tax_type, value = new
    same = next((t for t in existing if (t.type, t.value) == (tax_type, value)), None)
    if same is not None:
        return same
    try:
        return stripe_customers.create_tax_id(
            customer_id, tax_type, value, key=(practice.stripe_ref, tax_type, value, utcnow().timestamp())
        )
    except InvalidRequest as refused:
        if refused.stripe_code == "tax_id_invalid":
            raise InvalidTaxId(invalid_tax_id_words(tax_type, value)) from refused
        raise


def _forget_quietly(customer_id: str, tax_id: str) -> None:
    try:
        stripe_customers.delete_tax_id(customer_id, tax_id)
    except BillingError as error:  # the next save sees it at Stripe and keeps or removes it
        log.warning("could not undo tax id %s customer=%s: %s", tax_id, customer_id, error)


def _stripe_ids_of(row: PracticeTaxId, at_stripe: Iterable) -> list[str]:
    """Stripe's tax ID objects for a local row: by id, or (one from Checkout) by type and value."""
    if row.stripe_id:
        return [row.stripe_id]
    return [t.id for t in at_stripe if (t.type, t.value) == (row.type, row.value)]


def _customer_params(practice: Practice, details: BillingDetails) -> dict:
    name, email = practice_contact(practice, details.legal_name or "", details.billing_email or "")
    address = {key: details.address.get(key) or "" for key in ADDRESS_FIELDS}
    return {"name": name, "email": email, "address": address if any(address.values()) else ""}


def _apply_locally(practice: Practice, details: BillingDetails, at_stripe: Iterable, at: int) -> None:
    practice.billing_email = details.billing_email or None
    practice.legal_name = details.legal_name or None
    for key in ADDRESS_FIELDS:
        setattr(practice, f"address_{key}", details.address.get(key) or None)
    _mirror_tax_ids(practice, list(at_stripe))
    practice.billing_details_at = max(int(practice.billing_details_at or 0), at)


def _verification(tax_id: object) -> str | None:
    return (as_dict(tax_id).get("verification") or {}).get("status")


def _mirror_tax_ids(practice: Practice, at_stripe: list) -> None:
    """The practice's tax IDs become Stripe's: rows still there are kept (in their order, with
    Stripe's id and verification), rows gone are dropped, new ones are added after them."""
    kept = []
    for row in practice.tax_ids:
        found = next((t for t in at_stripe if t.id in _stripe_ids_of(row, [t])), None)
        if found is not None:
            at_stripe.remove(found)
            row.stripe_id, row.verification_status = found.id, _verification(found)
            kept.append(row)
    practice.tax_ids = kept + [
        PracticeTaxId(type=t.type, value=t.value, stripe_id=t.id, verification_status=_verification(t))
        for t in at_stripe
    ]


def _summary(practice: Practice) -> str:
    parts = [practice.legal_name, practice.address_city, practice.address_country]
    parts += [f"{tax_id_label(t.type)} {t.value}" for t in practice.tax_ids]
    return ", ".join(p for p in parts if p) or "cleared"


def apply_from_checkout(practice: Practice, session: dict, completed_at: int) -> bool:
    """What the person typed on the first subscription's Checkout page (its ``customer_details``)
    becomes the billing details, unless they were saved after the session completed (order-proof:
    ``completed_at``, Stripe's time, against ``billing_details_at``; the webhook and the success
    page give the same time, so applying twice changes nothing). Never commits. True if applied."""
    collected = session.get("billing_address_collection") == "required" or (
        (session.get("tax_id_collection") or {}).get("enabled")
    )
    typed = (session.get("customer_details") or {}) if collected else {}
    address = typed.get("address") or {}
    tax_ids = typed.get("tax_ids") or []
    if not (address.get("line1") or tax_ids) or int(practice.billing_details_at or 0) >= completed_at:
        return False
    if address.get("line1"):
        for key in ADDRESS_FIELDS:
            setattr(practice, f"address_{key}", address.get(key) or None)
    if typed.get("business_name"):
        practice.legal_name = typed["business_name"]
    known = {(t.type, t.value) for t in practice.tax_ids}
    for tax_id in tax_ids:
        if (tax_id.get("type"), tax_id.get("value")) not in known:
            practice.tax_ids.append(PracticeTaxId(type=tax_id["type"], value=tax_id["value"]))
    practice.billing_details_at = completed_at
    audit.record(practice, "billing_details_from_checkout", _summary(practice))
    return True
