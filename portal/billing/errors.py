"""Our own small set of billing errors, each with a message a person can read."""

from __future__ import annotations


class BillingError(Exception):
    """Stripe refused or failed; ``message`` is safe to show to the user."""

    #: HTTP status the JSON API answers with.
    status_code = 400
    code = "billing_error"

    def __init__(
        self, message: str, *, decline_code: str | None = None, stripe_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.decline_code = decline_code
        self.stripe_code = stripe_code


class CardDeclined(BillingError):
    status_code = 402
    code = "card_declined"


class AuthenticationRequired(BillingError):
    status_code = 402
    code = "authentication_required"


class StripeUnavailable(BillingError):
    """Connection error, timeout, 5xx or rate limit: worth retrying later."""

    status_code = 503
    code = "stripe_unavailable"

    def __init__(self, message: str = "Stripe could not be reached. Please try again in a moment.") -> None:
        super().__init__(message)


class NotFound(BillingError):
    status_code = 404
    code = "not_found"


class AlreadyAttached(BillingError):
    status_code = 409
    code = "already_attached"


class InvalidRequest(BillingError):
    status_code = 400
    code = "invalid_request"


class InvalidWebhook(Exception):
    """A delivery to the webhook endpoint that is not a genuine, fresh Stripe event.

    Not a ``BillingError``: nothing here is shown to a person; the endpoint answers 400.
    """
