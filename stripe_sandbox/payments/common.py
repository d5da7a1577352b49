"""What customers, payment methods and intents share: addresses, card errors, 3-D Secure actions."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.cards import (
    DECLINE_MESSAGES,
    OWN_ERROR_CODES,
    TestCard,
    card_for,
)
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError, invalid_request, not_found

ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``previous_attributes``: the old value of every top-level field that changed."""
    return {k: before.get(k) for k in after if k != "__seq" and before.get(k) != after.get(k)}


def address_param(value: Any, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if value == "" or value is None:
        return None
    address = dict(current or dict.fromkeys(ADDRESS_KEYS))
    for key in ADDRESS_KEYS:
        if key in value:
            address[key] = value[key] or None
    return address


def card_error(
    card: TestCard, *, param: str | None = None, extra: dict[str, Any] | None = None
) -> SandboxError:
    decline_code = card.decline_code or "generic_decline"
    return SandboxError(
        402,
        "card_error",
        DECLINE_MESSAGES.get(decline_code, "Your card was declined."),
        code=card.code,
        decline_code=decline_code if card.code == "card_declined" else None,
        param=param,
        extra=extra,
        keep_changes=True,
    )


def decline_error(decline_code: str) -> SandboxError:
    """Stripe's 402 for a charge the issuer declined with ``decline_code``: most are ``card_declined``
    with that ``decline_code``; a few carry their own ``code`` (``expired_card``, ``incorrect_cvc``,
    ``processing_error``, ``authentication_required``; https://docs.stripe.com/declines/codes)."""
    own_code = decline_code in OWN_ERROR_CODES
    return SandboxError(
        402,
        "card_error",
        DECLINE_MESSAGES[decline_code],
        code=decline_code if own_code else "card_declined",
        # Stripe repeats it as ``decline_code`` only for an issuer's decline, not a card-data error.
        decline_code=None if decline_code in ("expired_card", "incorrect_cvc") else decline_code,
        param=OWN_ERROR_CODES.get(decline_code),
        keep_changes=True,
    )


#: The decline codes the ``/_sandbox/payment_methods/<id>/decline`` test hook can force.
FORCEABLE_DECLINES = tuple(code for code in DECLINE_MESSAGES if code != "test_mode_live_card")


def force_decline(sb: Sandbox, pm_id: str, decline_code: str | None, charges: int | None) -> dict[str, Any]:
    """A test hook Stripe lacks: the saved card's next ``charges`` charges (every one while
    ``charges`` is None) are declined with ``decline_code``; None clears it."""
    pm = sb.require(pm_id, "payment_method", "payment_method")
    if pm.get("object") != "payment_method":
        raise not_found("payment_method", pm_id, "payment_method")
    if decline_code is None:
        sb.update_meta(pm["id"], forced_decline=None)
        return {"payment_method": pm["id"], "decline_code": None, "charges": None}
    if decline_code not in FORCEABLE_DECLINES:
        raise invalid_request(
            f"Unknown decline_code '{decline_code}'. Use one of: {', '.join(sorted(FORCEABLE_DECLINES))}; "
            "or null to clear.",
            param="decline_code",
        )
    if charges is not None and charges < 1:
        raise invalid_request("charges must be a whole number of at least 1, or omitted.", param="charges")
    forced = {"decline_code": decline_code, "charges": charges}
    sb.update_meta(pm["id"], forced_decline=forced)
    return {"payment_method": pm["id"], **forced}


def take_forced_decline(sb: Sandbox, pm_id: str) -> SandboxError | None:
    """The decline the test hook set on this card for this charge, if any (one charge used up)."""
    forced = sb.meta(pm_id).get("forced_decline")
    if not forced:
        return None
    left = forced["charges"]
    if left is not None:
        sb.update_meta(pm_id, forced_decline={**forced, "charges": left - 1} if left > 1 else None)
    return decline_error(forced["decline_code"])


def card_of(sb: Sandbox, pm_id: str) -> TestCard:
    return card_for(sb.meta(pm_id).get("number", "4242424242424242"))


def client_secret_for(object_id: str) -> str:
    return f"{object_id}_secret_{Sandbox.new_id('x', 24)[2:]}"


def challenge_action(sb: Sandbox, intent_id: str, return_url: str | None) -> dict[str, Any]:
    url = f"{sb.public_url}/challenge/{intent_id}"
    if return_url:
        return {
            "redirect_to_url": {"return_url": return_url, "url": f"{url}?return_url={return_url}"},
            "type": "redirect_to_url",
        }
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url, "source": sb.new_id("src")},
    }
