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
