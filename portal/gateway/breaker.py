"""A circuit breaker in front of Stripe: after repeated timeouts, fail fast instead of waiting.

Closed: every call goes through; ``threshold`` consecutive timeouts or connection
failures open it. Open: calls fail at once (the gateway raises ``StripeUnavailable``)
for ``cooldown_seconds``. Half-open: exactly one trial call goes through; an answer
closes the breaker, another failure opens it for a new cool-down.

Its state lives in the process (one breaker per app, so per gunicorn worker): each
worker finds out on its own that Stripe hangs, after at most ``threshold`` slow calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self, threshold: int, cooldown_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(1, threshold)
        self.cooldown_seconds = cooldown_seconds
        #: Replaceable (tests use a fake clock); monotonic seconds.
        self.clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started_at: float | None = None
        self._times_opened = 0

    def allow(self) -> bool:
        """May a call go to Stripe now? While half-open, only the one trial call may."""
        with self._lock:
            if self._state == CLOSED:
                return True
            now = self.clock()
            if self._state == OPEN:
                if now - self._opened_at < self.cooldown_seconds:
                    return False
                self._state = HALF_OPEN
            # Half-open: one trial at a time (a trial that never reported frees its slot after a cool-down).
            trial = self._trial_started_at
            if trial is not None and now - trial < self.cooldown_seconds:
                return False
            self._trial_started_at = now
            return True

    def record_success(self) -> None:
        """Stripe answered (any HTTP answer, errors included): it is reachable."""
        with self._lock:
            self._state = CLOSED
            self._failures = 0
            self._trial_started_at = None

    def record_failure(self) -> None:
        """A timeout or connection failure."""
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or (self._state == CLOSED and self._failures >= self.threshold):
                self._state = OPEN
                self._opened_at = self.clock()
                self._trial_started_at = None
                self._times_opened += 1

    def release(self) -> None:
        """A call ended without telling anything about Stripe (a bug of ours, or no time left)."""
        with self._lock:
            self._trial_started_at = None

    def state(self) -> dict:
        """For a metrics page or a health check: where it stands and when it tries again. Once the
        cool-down is over it says half-open (the next call is the trial), without waiting for that
        call: a quiet night's scrape must not keep an "open" alert firing (attack 19 A8)."""
        with self._lock:
            state, retry_in = self._state, 0.0
            if state == OPEN:
                retry_in = max(0.0, self.cooldown_seconds - (self.clock() - self._opened_at))
                state = OPEN if retry_in > 0 else HALF_OPEN
            return {
                "state": state,
                "consecutive_failures": self._failures,
                "threshold": self.threshold,
                "cooldown_seconds": self.cooldown_seconds,
                "retry_in_seconds": round(retry_in, 3),
                "times_opened": self._times_opened,
            }
