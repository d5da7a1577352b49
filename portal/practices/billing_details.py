"""A practice's billing details (billing email, legal name, address, tax IDs), kept on its Stripe
customer: Stripe prints them on every invoice it finalizes, and on its PDF.

Saving goes to Stripe first (a new tax ID, the customer, then the tax IDs removed) and writes
locally once Stripe has everything. Stripe down is refused, not deferred: a tax ID is Stripe's to
accept or refuse, and a deferred save could not tell the person who typed it. A save that changes
nothing calls Stripe not and writes no History line.

A save cut short after Stripe took part of it (an outage, a timeout) is finished forwards, not
undone: undoing is more writes to a Stripe that has just failed, which can fail in turn and leave
the words wrong again, while finishing needs only the next save. So the person is told "Stripe has
part of this change; press Save again to finish it" (the form kept as typed), the local copy takes
what Stripe is known to have (the page tells the truth meanwhile), and the next save converges: it
lists the tax IDs Stripe has (one call) and reuses one of the same type and value, never adding a
second (nor keeping copies an older portal left there).

Once per change: the form carries the practice's ``details_version`` as drawn, claimed with a
compare-and-swap by the view (``intents.in_step``): of two tabs, or two posts at once, one saves and
the other is told billing changed in another tab. Stripe's idempotency keys name the practice, the
version and (a tax ID) its type and value, never the time, so the SDK's retries and a repeat of the
same version reach Stripe once. Locally a tax ID is one row per (practice, type, value).

Changes made at Stripe directly (the dashboard) are not mirrored from ``customer.updated`` or
``customer.tax_id.*`` events: the portal owns these details and Stripe's copy follows it; the next
save lists Stripe's tax IDs and makes them the portal's, and ``flask billing reconcile`` compares.

Checkout (the first subscription) collects the address and a tax ID too: ``apply_from_checkout``
takes them from the completed session's ``customer_details``, unless the details were saved later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.extensions import db
from portal.gateway import customers as stripe_customers
from portal.gateway.errors import BillingError, InvalidRequest, StripeUnavailable
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict
from portal.practices import audit
from portal.practices.countries import tax_id_example, tax_id_label, tax_id_record_label
from portal.practices.customers import ensure_practice_customer, practice_contact
from portal.practices.errors import PracticeError
from portal.practices.members import require_manager
from portal.practices.models import BillingAuditEntry, Practice, PracticeTaxId
from portal.text import N_
from portal.users.models import User

log = logging.getLogger(__name__)

ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")

#: Said after Stripe's own words when a save was cut short after Stripe took part of it.
PART_AT_STRIPE = N_("Stripe has part of this change; press Save again to finish it.")
#: Said when the call that failed may have reached Stripe (its answer was lost), nothing else did.
MAYBE_AT_STRIPE = N_("Stripe may have part of this change; press Save again to finish it.")


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


class PartlySaved(PracticeError):
    """Stripe took part of a save before failing: the words say so, and Save again finishes it."""

    status = 503
    code = "billing_details_partly_saved"


def invalid_tax_id_words(tax_type: str, value: str) -> str:
    example = tax_id_example(tax_type)
    if example:
        return _(
            "Stripe did not accept %(value)s as a %(type)s. It looks like %(example)s.",
            value=value,
            type=tax_id_label(tax_type),
            example=example,
        )
    return _("Stripe did not accept %(value)s as a %(type)s.", value=value, type=tax_id_label(tax_type))


def address_of(practice: Practice) -> dict[str, str | None]:
    return {key: getattr(practice, f"address_{key}") for key in ADDRESS_FIELDS}


def unchanged(practice: Practice, details: BillingDetails) -> bool:
    """True when saving ``details`` would change nothing the portal has."""
    rows = {(t.type, t.value) for t in practice.tax_ids}
    if details.remove_tax_ids & {t.id for t in practice.tax_ids}:
        return False
    if details.new_tax_id is not None and details.new_tax_id not in rows:
        return False
    typed = {key: details.address.get(key) or None for key in ADDRESS_FIELDS}
    return (practice.billing_email, practice.legal_name, address_of(practice)) == (
        details.billing_email or None,
        details.legal_name or None,
        typed,
    )


@dataclass
class _AtStripe:
    """What Stripe is known to have so far in one save: its tax IDs, the customer once updated."""

    tax_ids: dict[str, object]
    customer: object | None = None
    wrote: bool = False


def save_billing_details(practice: Practice, details: BillingDetails, actor: User) -> bool:
    """Stripe's customer first, then the local copy, in one commit; False (no Stripe call, no
    History line) when nothing would change. Raises ``InvalidTaxId``, ``NotAllowed``,
    ``PartlySaved`` (committed: what Stripe has) or a ``BillingError`` (nothing saved)."""
    require_manager(practice, actor)
    if unchanged(practice, details):
        return False
    customer_id = ensure_practice_customer(practice)
    known = _AtStripe({tax_id.id: tax_id for tax_id in stripe_customers.list_tax_ids(customer_id)})
    version = practice.details_version  # claimed by the caller: these keys are this save's alone
    try:
        _save_at_stripe(practice, customer_id, details, known, version)
    except BillingError as error:
        maybe = isinstance(error, StripeUnavailable) and error.reached_stripe
        if not (known.wrote or maybe):
            raise
        raise _partly_saved(practice, details, known, actor, error.message) from error
    _apply_locally(practice, details, known)
    audit.record(practice, "billing_details_changed", summary(practice), actor_id=actor.id)
    db.session.commit()
    return True


def _save_at_stripe(
    practice: Practice, customer_id: str, details: BillingDetails, known: _AtStripe, version: int
) -> None:
    """The new tax ID (reused if Stripe has it), the customer, then the tax IDs removed and any
    copies at Stripe of one tax ID; ``known`` follows each write Stripe confirmed."""
    added = _add_tax_id(practice, customer_id, details.new_tax_id, known.tax_ids.values(), version)
    if added is not None and added.id not in known.tax_ids:
        known.tax_ids[added.id], known.wrote = added, True
    known.customer = stripe_customers.update_customer(
        customer_id,
        _customer_params(practice, details),
        key=("billing-details", practice.stripe_ref, version),
    )
    known.wrote = True
    removed = [row for row in practice.tax_ids if row.id in details.remove_tax_ids]
    doomed = [i for row in removed for i in _stripe_ids_of(row, known.tax_ids.values())]
    for stripe_id in [*doomed, *_copies(known.tax_ids.values())]:
        if stripe_id in known.tax_ids:
            stripe_customers.delete_tax_id(customer_id, stripe_id)
            known.tax_ids.pop(stripe_id)


def _partly_saved(practice: Practice, details: BillingDetails, known: _AtStripe, actor: User, said: str):
    """The local copy takes what Stripe confirmed (committed, with a History line); the refusal."""
    db.session.rollback()
    if known.wrote:
        _apply_locally(practice, details, known)
        audit.record(practice, "billing_details_partly_saved", summary(practice), actor_id=actor.id)
        db.session.commit()
    words = PART_AT_STRIPE if known.wrote else MAYBE_AT_STRIPE
    return PartlySaved(f"{said} {_(words)}".strip())


def _add_tax_id(practice: Practice, customer_id: str, new, existing: Iterable, version: int):
    """The new tax ID at Stripe (the one it already has, if the same); None if none was asked."""
    if new is None:
        return None
    tax_type, value = new
    same = next((t for t in existing if (t.type, t.value) == (tax_type, value)), None)
    if same is not None:
        return same
    try:
        # The version too: a tax ID removed and added again within Stripe's 24 h of keys is a new one.
        return stripe_customers.create_tax_id(
            customer_id, tax_type, value, key=(practice.stripe_ref, tax_type, value, version)
        )
    except InvalidRequest as refused:
        if refused.stripe_code == "tax_id_invalid":
            raise InvalidTaxId(invalid_tax_id_words(tax_type, value)) from refused
        raise


def _copies(at_stripe: Iterable) -> list[str]:
    """Stripe's tax IDs that repeat an older one's type and value (none once saves are claimed)."""
    seen, copies = set(), []
    for tax_id in sorted(at_stripe, key=lambda t: (int(getattr(t, "created", 0) or 0), t.id)):
        if (tax_id.type, tax_id.value) in seen:
            copies.append(tax_id.id)
        seen.add((tax_id.type, tax_id.value))
    return copies


def _stripe_ids_of(row: PracticeTaxId, at_stripe: Iterable) -> list[str]:
    """Stripe's tax ID objects for a local row: by id, else (one from Checkout) by type and value."""
    at_stripe = list(at_stripe)
    if row.stripe_id and any(t.id == row.stripe_id for t in at_stripe):
        return [row.stripe_id]
    return [t.id for t in at_stripe if (t.type, t.value) == (row.type, row.value)]


def _customer_params(practice: Practice, details: BillingDetails) -> dict:
    name, email = practice_contact(practice, details.legal_name or "", details.billing_email or "")
    address = {key: details.address.get(key) or "" for key in ADDRESS_FIELDS}
    return {"name": name, "email": email, "address": address if any(address.values()) else ""}


def _apply_locally(practice: Practice, details: BillingDetails, known: _AtStripe) -> None:
    """What Stripe has becomes the portal's: the typed fields once the customer took them, the tax
    IDs as Stripe has them; the version moves on (a form drawn before this saves nothing)."""
    if known.customer is not None:
        practice.billing_email = details.billing_email or None
        practice.legal_name = details.legal_name or None
        for key in ADDRESS_FIELDS:
            setattr(practice, f"address_{key}", details.address.get(key) or None)
        at = stripe_time(known.customer)
        practice.billing_details_at = max(int(practice.billing_details_at or 0), at)
    _mirror_tax_ids(practice, list(known.tax_ids.values()))
    practice.details_version = (practice.details_version or 0) + 1


def _verification(tax_id: object) -> str | None:
    return (as_dict(tax_id).get("verification") or {}).get("status")


def _mirror_tax_ids(practice: Practice, at_stripe: list) -> None:
    """The practice's tax IDs become Stripe's: rows still there are kept (in their order, with
    Stripe's id and verification), rows gone are dropped, new ones are added after them; one row
    per type and value, however many copies Stripe has."""
    kept = []
    for row in practice.tax_ids:
        found = next((t for t in at_stripe if t.id in _stripe_ids_of(row, at_stripe)), None)
        if found is not None:
            at_stripe = [t for t in at_stripe if (t.type, t.value) != (found.type, found.value)]
            row.stripe_id, row.verification_status = found.id, _verification(found)
            kept.append(row)
    added: dict[tuple[str, str], PracticeTaxId] = {}
    for t in at_stripe:
        added.setdefault(
            (t.type, t.value),
            PracticeTaxId(type=t.type, value=t.value, stripe_id=t.id, verification_status=_verification(t)),
        )
    practice.tax_ids = kept + list(added.values())


def summary(practice: Practice) -> str:
    parts = [practice.legal_name, practice.address_city, practice.address_country]
    parts += [f"{tax_id_record_label(t.type)} {t.value}" for t in practice.tax_ids]
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
    if _applied_from(practice, session.get("id")):  # the success page, then the event (dated later)
        return False
    if address.get("line1"):
        for key in ADDRESS_FIELDS:
            setattr(practice, f"address_{key}", address.get(key) or None)
    if typed.get("business_name"):
        practice.legal_name = typed["business_name"]
    known = {(t.type, t.value) for t in practice.tax_ids}
    for tax_id in tax_ids:
        if (tax_id.get("type"), tax_id.get("value")) not in known:
            known.add((tax_id["type"], tax_id["value"]))
            practice.tax_ids.append(PracticeTaxId(type=tax_id["type"], value=tax_id["value"]))
    practice.billing_details_at = completed_at
    practice.details_version = (
        practice.details_version or 0
    ) + 1  # a details form drawn before Checkout filled them saves nothing
    # The session's id names the line (History shows it behind the toggle): one Checkout, one line.
    audit.record(practice, "billing_details_from_checkout", f"{summary(practice)}, {session.get('id')}")
    return True


def _applied_from(practice: Practice, session_id: str | None) -> bool:
    """Whether this Checkout session's details were applied already (its History line names it)."""
    if not session_id:
        return False
    db.session.flush()
    return (
        db.session.scalar(
            sa.select(BillingAuditEntry.id)
            .where(
                BillingAuditEntry.practice_id == practice.id,
                BillingAuditEntry.action == "billing_details_from_checkout",
                BillingAuditEntry.detail.like(f"%, {session_id}"),
            )
            .limit(1)
        )
        is not None
    )
