"""Stripe's rate limit in test mode (25 operations a second, then 429 ``rate_limit``) and the request log.

https://docs.stripe.com/rate-limits: "sandbox (test mode) 25 operations per second"; a request
over it answers 429 with the error code ``rate_limit`` and should be retried with an exponential
back-off. Counted over a sliding one-second window of the requests that were let through.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from stripe_sandbox.errors import SandboxError

#: Stripe's test-mode limit (https://docs.stripe.com/rate-limits).
TEST_MODE_PER_SECOND = 25


def rate_limited() -> SandboxError:
    return SandboxError(
        429,
        "invalid_request_error",
        "Request rate limit exceeded. You can make up to 25 requests per second in test mode. "
        "Learn more about rate limits: https://docs.stripe.com/rate-limits.",
        code="rate_limit",
    )


class RateLimiter:
    def __init__(
        self, per_second: int = TEST_MODE_PER_SECOND, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_second = per_second
        self.clock = clock
        self._lock = threading.Lock()
        self._recent: collections.deque[float] = collections.deque()
        self.limited = 0

    def admit(self) -> bool:
        """True if one more request fits in the last second (and count it); False: answer 429."""
        with self._lock:
            now = self.clock()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.per_second:
                self.limited += 1
                return False
            self._recent.append(now)
            return True


class RequestLog:
    """Every ``/v1`` call seen, by endpoint, and every one strict mode rejected (``GET /_sandbox/requests``).

    A test suite run against the sandbox reads it at the end: a rejection is a call real Stripe
    would refuse too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.endpoints: collections.Counter[str] = collections.Counter()
        self.rejected: list[dict[str, object]] = []

    def record(self, endpoint: str) -> None:
        with self._lock:
            self.calls += 1
            self.endpoints[endpoint] += 1

    def reject(self, endpoint: str, path: str, error: SandboxError) -> None:
        with self._lock:
            self.rejected.append(
                {"endpoint": endpoint, "path": path, "param": error.param, "message": error.message}
            )

    def summary(self) -> dict[str, object]:
        with self._lock:
            return {
                "calls": self.calls,
                "endpoints": dict(self.endpoints),
                "rejected": list(self.rejected),
            }

    def clear(self) -> None:
        with self._lock:
            self.calls = 0
            self.endpoints.clear()
            self.rejected.clear()


class KeysInFlight:
    """Idempotency keys whose request is still running: Stripe answers a second request with the same
    key meanwhile with 409 (https://docs.stripe.com/error-low-level#idempotency)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[str] = set()

    def begin(self, key: str) -> bool:
        """Claim ``key``; False when another request holds it."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def end(self, key: str) -> None:
        with self._lock:
            self._keys.discard(key)
