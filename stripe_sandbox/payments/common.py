"""What customers, payment methods and intents share: addresses, card errors, 3-D Secure actions."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.cards import (
    DECLINE_MESSAGES,
    TestCard,
    card_for,
)
from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import SandboxError

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
