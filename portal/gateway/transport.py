"""The HTTP client under the Stripe SDK: explicit timeouts, retries inside a budget.

* A connect timeout and a read timeout of their own (``requests`` takes the pair),
  each cut to what is left of the current action's budget (see ``action_deadline``).
* The SDK retries timeouts, connection errors and 5xx answers; here a read timeout
  is not retried (a hung Stripe would hang again), and any retry happens only when
  the back-off sleep and a useful attempt still fit in the budget.
* The final ``APIConnectionError`` says whether any attempt may have reached Stripe
  (``reached_stripe``): a refused connection or a connect timeout provably did not,
  a read timeout or a connection dropped mid-answer may have.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests
import stripe
from urllib3.exceptions import NewConnectionError

#: A retry needs at least this much time for its attempt to be worth making.
MIN_ATTEMPT_SECONDS = 0.5

#: ``time.monotonic()`` by which the current Stripe action must be over; None: no budget set.
_deadline: ContextVar[float | None] = ContextVar("stripe_deadline", default=None)


@contextlib.contextmanager
def action_deadline(deadline: float) -> Iterator[None]:
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_seconds() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def never_sent(error: BaseException | None) -> bool:
    """True when ``requests`` failed before a byte of the request could reach the server."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError) and not isinstance(
        error, requests.exceptions.SSLError
    ):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError)  # refused, unreachable, DNS failure
    return False


class BoundedRequestsClient(stripe.RequestsClient):
    """``stripe.RequestsClient`` with (connect, read) timeouts bounded by the action's deadline."""

    def __init__(
        self, connect_timeout: float, read_timeout: float, *, rate_limit_retries: int = 0, **kwargs: Any
    ) -> None:
        self._attempts = threading.local()
        #: How often a 429 (Stripe's rate limit) is retried with back-off: the SDK retries only 409
        #: and 5xx, while https://docs.stripe.com/rate-limits asks clients to back off and retry.
        self.rate_limit_retries = rate_limit_retries
        super().__init__(timeout=(connect_timeout, read_timeout), **kwargs)

    # The SDK passes ``self._timeout`` to every ``requests`` call: clamp it per attempt.
    @property
    def _timeout(self) -> tuple[float, float]:
        connect, read = self._configured_timeout
        left = remaining_seconds()
        if left is None:
            return connect, read
        left = max(0.05, left)
        return min(connect, left), min(read, left)

    @_timeout.setter
    def _timeout(self, value: float | tuple[float, float]) -> None:
        self._configured_timeout = value if isinstance(value, tuple) else (value, value)

    def request_with_retries(self, *args: Any, **kwargs: Any) -> Any:
        return self._tracked(super().request_with_retries, *args, **kwargs)

    def request_stream_with_retries(self, *args: Any, **kwargs: Any) -> Any:
        return self._tracked(super().request_stream_with_retries, *args, **kwargs)

    def _tracked(self, send: Any, *args: Any, **kwargs: Any) -> Any:
        self._attempts.maybe_sent = self._attempts.last_sent = self._attempts.timed_out = False
        try:
            return send(*args, **kwargs)
        except stripe.APIConnectionError as error:
            error.reached_stripe = self._attempts.maybe_sent  # type: ignore[attr-defined]
            error.timed_out = getattr(self._attempts, "timed_out", False)  # type: ignore[attr-defined]
            raise

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request(*args, **kwargs)
        self._attempts.maybe_sent = True  # any answer, a 5xx too: Stripe saw it
        return response

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request_stream(*args, **kwargs)
        self._attempts.maybe_sent = True
        return response

    def _handle_request_error(self, e: Exception) -> Any:
        self._attempts.last_sent = not never_sent(e)
        self._attempts.timed_out = isinstance(e, requests.exceptions.Timeout)  # the metrics' outcome
        if self._attempts.last_sent:
            self._attempts.maybe_sent = True
        return super()._handle_request_error(e)

    def _should_retry(self, response: Any, connection_error: Any, num_retries: int, max_retries: Any) -> bool:
        if response is not None and response[1] == 429:
            # Rate limited: nothing ran at Stripe, so another attempt after a back-off is safe.
            if num_retries >= self.rate_limit_retries:
                return False
        elif not super()._should_retry(response, connection_error, num_retries, max_retries):
            return False
        if connection_error is not None and getattr(self._attempts, "last_sent", True):
            # Sent, then no answer (a read timeout): Stripe is slow or hung, and another attempt
            # would only wait as long again. Retried are failed connections and 5xx answers.
            return False
        left = remaining_seconds()
        return left is None or left >= self.INITIAL_DELAY + MIN_ATTEMPT_SECONDS

    def _sleep_time_seconds(self, num_retries: int) -> float:
        sleep = super()._sleep_time_seconds(num_retries)
        left = remaining_seconds()
        if left is None:
            return sleep
        return max(0.0, min(sleep, left - MIN_ATTEMPT_SECONDS))
