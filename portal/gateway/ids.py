"""The shape of a Stripe id, checked before any Stripe call that names one.

An id often comes from a client (a JSON body, a form field, a URL path). Sent on as it came, a
70,000-character one made the SDK's URL too long to send ("Stripe could not be reached", 503)
and a 70k log line; one with ``/`` or ``?`` would change the URL it is put into. So every
gateway call checks the ids it is given (``call_stripe`` does, by the context's names) and a
malformed one is a 400 with a clear message, before Stripe is called or anything is logged.
"""

from __future__ import annotations

import re

from portal.gateway.errors import InvalidRequest

#: The longest id accepted: Stripe's own are far shorter.
MAX_STRIPE_ID_LENGTH = 255
_ID_BODY = re.compile(r"[A-Za-z0-9_]+")

#: What each kind of id is called, and the prefixes Stripe gives it (``call_stripe``'s context names).
STRIPE_ID_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "payment_method_id": ("payment method", ("pm_",)),
    "setup_intent_id": ("setup intent", ("seti_",)),
    "payment_intent_id": ("payment intent", ("pi_",)),
    "invoice_id": ("invoice", ("in_",)),
    "customer_id": ("customer", ("cus_",)),
    "subscription_id": ("subscription", ("sub_",)),
    "session_id": ("Checkout session", ("cs_",)),
}


class InvalidStripeId(InvalidRequest):
    code = "invalid_stripe_id"


def stripe_id(value: object, kind: str) -> str:
    """``value`` if it is a well-formed id of ``kind`` (a ``STRIPE_ID_KINDS`` name), else
    ``InvalidStripeId``."""
    name, prefixes = STRIPE_ID_KINDS[kind]
    if isinstance(value, str) and len(value) <= MAX_STRIPE_ID_LENGTH:
        prefix = next((p for p in prefixes if value.startswith(p)), None)
        if prefix is not None and _ID_BODY.fullmatch(value[len(prefix) :]):
            return value
    raise InvalidStripeId(
        f"That is not a valid Stripe {name} id: it starts with {prefixes[0]}, then only letters, "
        f"digits and _ ({MAX_STRIPE_ID_LENGTH} characters at most)."
    )


def check_stripe_ids(context: dict[str, object]) -> None:
    """Refuse (``InvalidStripeId``) any malformed id among a Stripe call's context values."""
    for kind, value in context.items():
        if kind in STRIPE_ID_KINDS and value is not None:
            stripe_id(value, kind)
