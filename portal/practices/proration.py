"""The proration date of a plan switch: only one the portal issued, and only while it is recent.

The preview asks Stripe what the switch costs at Stripe's clock of that moment, and the confirm
form carries that date back so the person pays what they were shown. The date decides the credit for
the unused time, so the form's value is signed (bound to the practice and the plan) and, when it
comes back, must be within ``MAX_AGE_SECONDS`` of Stripe's clock and inside the current period;
otherwise the person gets a fresh preview (``StalePreview``), and nothing is sent to Stripe.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, Signer

from portal.practices.errors import PracticeError
from portal.practices.models import Plan
from portal.text import N_

#: How old a preview's date may be when the switch is confirmed (Stripe's clock).
MAX_AGE_SECONDS = 15 * 60
#: How far ahead of Stripe's clock it may be (its clock may move between two calls).
AHEAD_SECONDS = 60
STALE = N_("The price changed since the preview; here is the current one.")


class StalePreview(PracticeError):
    """A proration date the portal did not issue, or one too old: answered with a fresh preview."""

    status = 409
    code = "stale_preview"

    def __init__(self) -> None:
        super().__init__(STALE)


def _signer() -> Signer:
    return Signer(current_app.secret_key, salt="plan-switch-proration-date")


def issue(practice_id: int, plan: Plan, proration_date: int) -> str:
    """The confirm form's value for ``proration_date``: the date, signed for this practice and plan."""
    signed = _signer().sign(f"{practice_id}:{plan.value}:{int(proration_date)}").decode()
    return signed.split(":", 2)[2]


def verified(posted: str | None, practice_id: int, plan: Plan) -> int:
    """The date of a value ``issue`` made for this practice and plan, else ``StalePreview``."""
    if not posted:
        raise StalePreview()
    try:
        value = _signer().unsign(f"{practice_id}:{plan.value}:{posted}").decode()
        return int(value.rsplit(":", 1)[1])
    except (BadSignature, ValueError) as error:
        raise StalePreview() from error


def check_recent(proration_date: int, stripe_now: int, period_start: int | None) -> None:
    """Refuse a date older than ``MAX_AGE_SECONDS`` on Stripe's clock, ahead of it, or before the
    current period's start (such a date would credit time the customer already used)."""
    if not stripe_now - MAX_AGE_SECONDS <= proration_date <= stripe_now + AHEAD_SECONDS:
        raise StalePreview()
    if period_start and proration_date < int(period_start):
        raise StalePreview()
