"""Verify a webhook delivery with the SDK's signature check and parse it into a plain dict.

Stripe signs ``f"{t}.{body}"`` with each endpoint secret (``Stripe-Signature:
t=...,v1=...``). During a secret rotation both the old and the new secret are
valid, so several secrets are tried. The SDK only rejects timestamps that are
too old; one too far in the future is just as suspicious (a replay prepared in
advance, or a badly wrong clock), so we check both directions ourselves.
"""

from __future__ import annotations

import json
import re
import time

import stripe

from portal.gateway.errors import InvalidWebhook

#: Seconds a signature's timestamp may differ from our clock, in either direction.
DEFAULT_TOLERANCE = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def parse_secrets(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``STRIPE_WEBHOOK_SECRET`` as a list: a comma-separated string allows rotation."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def _timestamp(sig_header: str) -> int:
    """The single ``t=`` of the header, digits only (stricter than the SDK's ``int()``)."""
    stamps = [part[2:] for part in sig_header.split(",") if part.startswith("t=")]
    if len(stamps) != 1 or not _TIMESTAMP.fullmatch(stamps[0]):
        raise InvalidWebhook("Stripe-Signature header has no valid timestamp")
    return int(stamps[0])


def verify_event(
    payload: bytes,
    sig_header: str | None,
    secrets: list[str],
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> dict:
    """The verified event as a plain dict; ``InvalidWebhook`` for anything else.

    Rejects: no secret configured, a missing or garbled header, a signature that
    matches none of ``secrets``, a timestamp more than ``tolerance`` seconds from
    now (past or future), a body that is not UTF-8 JSON shaped like a Stripe event.
    """
    if not secrets:
        raise InvalidWebhook("no webhook secret is configured")
    if not sig_header:
        raise InvalidWebhook("missing Stripe-Signature header")
    timestamp = _timestamp(sig_header)
    # The SDK repeats the check on the past against the real clock; skip that when a test sets ``now``.
    sdk_tolerance = tolerance if now is None else None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise InvalidWebhook("signature timestamp outside the tolerance window")
    try:
        body = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWebhook("body is not UTF-8") from None

    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body, sig_header, secret, sdk_tolerance)
        except stripe.SignatureVerificationError:
            continue
        except (ValueError, TypeError):  # e.g. non-ASCII signature bytes in compare_digest
            raise InvalidWebhook("garbled Stripe-Signature header") from None
        break
    else:
        raise InvalidWebhook("no signature matches")

    try:
        event = json.loads(body)
    except ValueError:
        raise InvalidWebhook("body is not JSON") from None
    _check_event_shape(event)
    return event


def _check_event_shape(event: object) -> None:
    """Just enough shape for the inbox: id, type, created, data.object."""
    if not isinstance(event, dict) or event.get("object") != "event":
        raise InvalidWebhook("body is not a Stripe event")
    for key in ("id", "type"):
        if not isinstance(event.get(key), str) or not event[key] or len(event[key]) > 255:
            raise InvalidWebhook(f"event has no valid {key}")
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created < 2**62:
        raise InvalidWebhook("event has no valid created")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidWebhook("event has no data.object")


def sign_payload(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, as Stripe computes it (tests, the sandbox)."""
    body = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
