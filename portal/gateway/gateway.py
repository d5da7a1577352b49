"""The Stripe client and the wrapper every Stripe call goes through.

One ``StripeClient`` per app, kept in ``app.extensions`` (never the global
``stripe.api_key``). ``call_stripe`` turns SDK errors into ours and writes one
structured log line per operation: never a card number, secret or client secret.

A hung Stripe must not hang the portal: every call has a connect and a read timeout
(``transport``), all the calls of one web request share one budget
(``STRIPE_ACTION_BUDGET_SECONDS``), and a circuit breaker (``breaker``) fails calls at
once after repeated timeouts until a trial call gets an answer again.
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import stripe
from flask import Flask, current_app, g, has_request_context
from flask_login import current_user

from portal.gateway.breaker import CircuitBreaker
from portal.gateway.errors import (
    BREAKER_OPEN_MESSAGE,
    NOT_SENT_MESSAGE,
    RATE_LIMITED_MESSAGE,
    AlreadyAttached,
    AuthenticationRequired,
    BillingError,
    CardDeclined,
    InvalidRequest,
    NotFound,
    StripeUnavailable,
    worded_for,
)
from portal.gateway.ids import check_stripe_ids
from portal.gateway.transport import MIN_ATTEMPT_SECONDS, BoundedRequestsClient, action_deadline
from portal.metrics import record_breaker_state, record_stripe_call

log = logging.getLogger("portal.gateway")

#: The API version the portal's object shapes are written for (the SDK's own).
API_VERSION = stripe._api_version._ApiVersion.CURRENT

T = TypeVar("T")


#: What must never reach a log: client secrets, API keys, webhook secrets, card numbers.
_SECRETS = re.compile(
    r"\b[a-z]+_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"  # seti_..._secret_..., pi_..._secret_...
    r"|\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]+"
    r"|\bwhsec_[A-Za-z0-9]+"
    r"|\b\d{13,19}\b"
)


class RedactSecrets(logging.Filter):
    """The SDK logs request and response bodies at DEBUG (a SetupIntent's carries its client secret).

    Installed on the ``stripe`` logger, so whoever turns it up to DEBUG still gets no secret.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRETS.sub("[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def init_stripe_client(app: Flask) -> None:
    stripe_logger = logging.getLogger("stripe")
    if not any(isinstance(f, RedactSecrets) for f in stripe_logger.filters):
        stripe_logger.addFilter(RedactSecrets())
    cfg = app.config
    http_client = BoundedRequestsClient(
        connect_timeout=float(cfg["STRIPE_CONNECT_TIMEOUT_SECONDS"]),
        read_timeout=float(cfg["STRIPE_READ_TIMEOUT_SECONDS"]),
        rate_limit_retries=int(cfg["STRIPE_RATE_LIMIT_RETRIES"]),
    )
    app.extensions["stripe_client"] = stripe.StripeClient(
        cfg["STRIPE_SECRET_KEY"],
        stripe_version=API_VERSION,
        base_addresses={"api": cfg["STRIPE_API_BASE_EFFECTIVE"]},
        max_network_retries=cfg["STRIPE_MAX_NETWORK_RETRIES"],
        http_client=http_client,
    )
    app.extensions["stripe_call_counter"] = StripeCallCounter()
    app.extensions["stripe_breaker"] = CircuitBreaker(
        threshold=int(cfg["STRIPE_BREAKER_THRESHOLD"]),
        cooldown_seconds=float(cfg["STRIPE_BREAKER_COOLDOWN_SECONDS"]),
    )

    @app.before_request
    def start_stripe_budget() -> None:
        """Whatever Stripe calls this request makes, together they end within the budget."""
        g.stripe_deadline = time.monotonic() + float(app.config["STRIPE_ACTION_BUDGET_SECONDS"])


def stripe_breaker_state() -> dict:
    """This process's circuit breaker: state, consecutive failures, seconds until the next trial."""
    return current_app.extensions["stripe_breaker"].state()


def stripe_client() -> stripe.StripeClient:
    return current_app.extensions["stripe_client"]


def idempotency_key(*parts: object) -> str:
    """A key derived from our own ids, e.g. ``customer-create-user-42``."""
    return "-".join(str(part) for part in parts)


class StripeCallCounter:
    """Counts Stripe calls; tests and benchmarks read it to prove a page made none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.operations: list[str] = []

    def record(self, operation: str) -> None:
        with self._lock:
            self.count += 1
            self.operations.append(operation)

    @contextmanager
    def watch(self) -> Iterator[list[str]]:
        start = len(self.operations)
        seen: list[str] = []
        try:
            yield seen
        finally:
            seen.extend(self.operations[start:])


#: Codes saying the bank wants the customer to confirm (3-D Secure): ``authentication_required`` from a
#: PaymentIntent, ``invoice_payment_intent_requires_action`` from ``POST /v1/invoices/{id}/pay``
#: (https://docs.stripe.com/error-codes). Neither is a decline: the payment can still go through.
AUTHENTICATION_CODES = frozenset({"authentication_required", "invoice_payment_intent_requires_action"})


#: Stripe's answer to a request whose Idempotency-Key another request (a double submit) still holds.
KEY_IN_USE = "idempotency_key_in_use"


def translate_stripe_error(error: stripe.StripeError) -> BillingError:
    """Map an SDK error to one of ours, with words a person understands."""
    message = getattr(error, "user_message", None) or "Stripe refused the request."
    code = getattr(error, "code", None)
    if isinstance(error, stripe.CardError):
        decline = getattr(error, "error", None)
        decline_code = getattr(decline, "decline_code", None) if decline else None
        if code in AUTHENTICATION_CODES:
            return AuthenticationRequired(
                "Your bank needs you to confirm this payment.", decline_code=decline_code, stripe_code=code
            )
        return CardDeclined(message, decline_code=decline_code, stripe_code=code)
    if isinstance(error, stripe.APIConnectionError):
        if getattr(error, "reached_stripe", True):
            return StripeUnavailable()
        return StripeUnavailable(NOT_SENT_MESSAGE, reached_stripe=False)
    if isinstance(error, stripe.RateLimitError):
        return StripeUnavailable(RATE_LIMITED_MESSAGE, reached_stripe=False, stripe_code=code or "rate_limit")
    if isinstance(error, stripe.APIError):  # a 409 of a key in use too (its code kept: ``call_stripe_once``)
        in_use = (code or getattr(getattr(error, "error", None), "code", None)) == KEY_IN_USE
        return StripeUnavailable(stripe_code=KEY_IN_USE) if in_use else StripeUnavailable()
    if isinstance(error, stripe.InvalidRequestError):
        if code == "resource_missing":
            return NotFound("That item no longer exists at Stripe.", stripe_code=code)
        if code == "payment_method_already_attached" or "already been attached" in message:
            return AlreadyAttached("This card is already saved to another customer.", stripe_code=code)
        return InvalidRequest(message, stripe_code=code)
    if isinstance(error, stripe.AuthenticationError):
        log.error("stripe rejected our API key; check STRIPE_SECRET_KEY")
        return StripeUnavailable("Billing is misconfigured. Please contact support.")
    if isinstance(error, stripe.IdempotencyError):
        return InvalidRequest("This request conflicts with an earlier one.", stripe_code=code)
    return BillingError(message, stripe_code=code)


def stripe_time(result: object) -> int:
    """Stripe's clock at the moment it answered (its ``Date`` header), else ours.

    Local mirror writes are stamped with it, so they order consistently with the
    ``created`` times of webhook events, which come from the same clock (the
    sandbox's clock may run ahead of ours after it is advanced).
    """
    response = getattr(result, "last_response", None)
    header = response.headers.get("Date") if response is not None and response.headers else None
    if header:
        try:
            return int(email.utils.parsedate_to_datetime(header).timestamp())
        except (TypeError, ValueError):
            pass
    return int(time.time())


def _acting_user_id() -> int | None:
    """The logged-in person behind this call, if any (API tokens included)."""
    if not has_request_context():
        return None
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user.id
    user = current_user
    return user.id if user and user.is_authenticated else None


def _action_deadline() -> float:
    """When the current action must be done: the web request's budget, else one budget per call."""
    if has_request_context() and g.get("stripe_deadline") is not None:
        return g.stripe_deadline
    return time.monotonic() + float(current_app.config["STRIPE_ACTION_BUDGET_SECONDS"])


#: The longest value a log line repeats; longer ones are cut, so no client value makes a huge line.
MAX_LOGGED_VALUE = 80


def _loggable(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_LOGGED_VALUE else f"{text[:MAX_LOGGED_VALUE]}...({len(text)} chars)"


def call_stripe(operation: str, fn: Callable[[], T], **context: object) -> T:
    """Run one Stripe call: count it, translate errors, log one structured line, record its metrics.

    ``context`` holds ids only (user_id, customer_id, practice_id, ...). Fails at once,
    without calling Stripe, while the breaker is open or when the action's budget is spent.
    """
    check_stripe_ids(context)  # a malformed id (from a client) is a 400 before Stripe or the log sees it
    context = {"user_id": _acting_user_id(), **context}
    fields = " ".join(f"{k}={_loggable(v)}" for k, v in context.items() if v is not None)
    breaker: CircuitBreaker = current_app.extensions["stripe_breaker"]
    deadline = _action_deadline()
    if deadline - time.monotonic() < MIN_ATTEMPT_SECONDS:
        log.warning("stripe op=%s %s outcome=skipped reason=no_time_left", operation, fields)
        record_stripe_call(operation, "no_time_left")
        raise StripeUnavailable(
            "Stripe is answering too slowly right now. Please try again in a minute.", reached_stripe=False
        )
    allowed = breaker.allow()
    record_breaker_state(breaker.state()["state"])
    if not allowed:
        log.warning("stripe op=%s %s outcome=skipped reason=breaker_open", operation, fields)
        record_stripe_call(operation, "breaker_open")
        raise worded_for(StripeUnavailable(BREAKER_OPEN_MESSAGE, reached_stripe=False), operation)
    current_app.extensions["stripe_call_counter"].record(operation)
    started = time.perf_counter()
    try:
        with action_deadline(deadline):
            result = fn()
    except stripe.StripeError as error:
        if isinstance(error, stripe.APIConnectionError):
            breaker.record_failure()
        else:
            breaker.record_success()  # Stripe answered, if only with an error
        _record(breaker, operation, call_outcome(error), started)
        translated = worded_for(translate_stripe_error(error), operation)
        log.warning(
            "stripe op=%s %s outcome=error error=%s stripe_code=%s",
            operation,
            fields,
            type(translated).__name__,
            translated.stripe_code,
        )
        raise translated from None
    except BaseException:
        breaker.release()
        _record(breaker, operation, "error", started)
        raise
    breaker.record_success()
    _record(breaker, operation, "ok", started)
    log.info("stripe op=%s %s outcome=ok id=%s", operation, fields, getattr(result, "id", None))
    return result


def call_stripe_once(operation: str, fn: Callable[[], T], wait: float = 0.25) -> T:
    """``call_stripe`` for an idempotent POST: while another request holds its key (Stripe's 409
    ``idempotency_key_in_use``, a double submit still at Stripe), ask again until the first has an
    answer, which Stripe then replays: the first's outcome, not "Stripe could not be reached" (third
    attack F13). ``call_stripe`` ends the wait when the action's time budget is spent."""
    while True:
        try:
            return call_stripe(operation, fn)
        except BillingError as error:
            if error.stripe_code != KEY_IN_USE:
                raise
        time.sleep(wait)


def _record(breaker: CircuitBreaker, operation: str, outcome: str, started: float) -> None:
    record_stripe_call(operation, outcome, time.perf_counter() - started)
    record_breaker_state(breaker.state()["state"])


#: The metrics' outcome of each SDK error class (the first that matches; a timeout is told apart below).
_OUTCOMES: tuple[tuple[type[stripe.StripeError], str], ...] = (
    (stripe.CardError, "card_error"),
    (stripe.RateLimitError, "rate_limited"),
    (stripe.APIConnectionError, "connection"),
    (stripe.InvalidRequestError, "invalid_request"),
    (stripe.AuthenticationError, "authentication_error"),
    (stripe.IdempotencyError, "idempotency_error"),
    (stripe.APIError, "api_error"),
)


def call_outcome(error: stripe.StripeError) -> str:
    """How a failed call ended, for the metrics: Stripe's error type, or timeout/connection."""
    if isinstance(error, stripe.APIConnectionError) and getattr(error, "timed_out", False):
        return "timeout"
    return next((outcome for kind, outcome in _OUTCOMES if isinstance(error, kind)), "error")
