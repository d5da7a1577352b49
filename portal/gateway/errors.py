"""Our own small set of billing errors, each with a message a person can read."""

from __future__ import annotations

from portal.errors import UserError


class BillingError(UserError):
    """Stripe refused or failed; ``message`` is safe to show to the user."""

    code = "billing_error"

    def __init__(
        self, message: str, *, decline_code: str | None = None, stripe_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.decline_code = decline_code
        self.stripe_code = stripe_code


class CardDeclined(BillingError):
    status = 402
    code = "card_declined"


class AuthenticationRequired(BillingError):
    status = 402
    code = "authentication_required"


class StripeUnavailable(BillingError):
    """Connection error, timeout, 5xx, rate limit or an open circuit breaker: worth retrying later.

    ``reached_stripe`` is False only when Stripe provably never received the request
    (connection refused, connect timeout, breaker open, no time left): nothing it
    does can have happened. True means the outcome is unknown (a read timeout, a 5xx).
    """

    status = 503
    code = "stripe_unavailable"

    def __init__(
        self,
        message: str = "Stripe could not be reached. Please try again in a moment.",
        *,
        reached_stripe: bool = True,
        stripe_code: str | None = None,
    ) -> None:
        super().__init__(message, stripe_code=stripe_code)
        self.reached_stripe = reached_stripe


#: Shown when Stripe never saw the request (so nothing can have been charged).
NOT_SENT_MESSAGE = "Stripe could not be reached, so nothing was charged. Please try again in a minute."
#: Shown when Stripe's rate limit still answers 429 after our retries: Stripe processed nothing
#: (https://docs.stripe.com/rate-limits), so the request is safe to make again.
RATE_LIMITED_MESSAGE = "Stripe is busy right now; nothing was charged. Try again in a minute."
#: Shown while the circuit breaker fails Stripe actions fast.
BREAKER_OPEN_MESSAGE = "Stripe is not answering; nothing was charged; try again in a minute."


#: What did not happen, by operation, when the words above say "nothing was charged": a refund or a
#: change that charges nothing is said as what it is (a refund "nothing was refunded").
_NOT_DONE = {
    "refund.create": "nothing was refunded",
    "credit_note.create": "nothing was refunded",
    "coupon.create": "no code was made",
    "promotion_code.create": "no code was made",
    "promotion_code.update": "nothing was changed",
    "subscription.update": "nothing was changed",
    "subscription.cancel": "nothing was changed",
    "subscription_schedule.create": "nothing was changed",
    "subscription_schedule.update": "nothing was changed",
    "subscription_schedule.release": "nothing was changed",
    "customer.update": "nothing was changed",
    "customer.tax_id.create": "nothing was changed",
    "customer.tax_id.delete": "nothing was changed",
    "payment_method.detach": "nothing was changed",
}


def worded_for(error: BillingError, operation: str) -> BillingError:
    """``error`` with "nothing was charged" said as what ``operation`` would have done (F29)."""
    what = _NOT_DONE.get(operation)
    if what and isinstance(error, StripeUnavailable) and "nothing was charged" in error.message:
        return StripeUnavailable(
            error.message.replace("nothing was charged", what),
            reached_stripe=error.reached_stripe,
            stripe_code=error.stripe_code,
        )
    return error


class NotFound(BillingError):
    status = 404
    code = "not_found"


class AlreadyAttached(BillingError):
    status = 409
    code = "already_attached"


class InvalidRequest(BillingError):
    status = 400
    code = "invalid_request"


class InvalidWebhook(Exception):
    """A delivery to the webhook endpoint that is not a genuine, fresh Stripe event.

    Not a ``BillingError``: nothing here is shown to a person; the endpoint answers 400.
    """
