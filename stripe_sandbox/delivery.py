"""Webhook delivery: a background thread POSTs each event, signed like Stripe does.

The signature is ``t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">`` with the endpoint secret, so
``stripe.Webhook.construct_event`` accepts it. ``t`` is real wall-clock time (not the sandbox
clock), because receivers reject signatures older than five minutes.

Modes reproduce what real Stripe may do to a receiver: ``ordered`` (one at a time, in order),
``shuffled`` (whatever is queued goes out in random order), ``duplicates`` (every event twice),
``delayed`` (each event waits ``delay_seconds`` before its first attempt). Modes combine with
``+``: ``shuffled+duplicates`` sends every event twice, in random order.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import requests

from stripe_sandbox.store import Store

log = logging.getLogger("stripe_sandbox.delivery")

MODES = ("ordered", "shuffled", "duplicates", "delayed")


def valid_mode(mode: str) -> bool:
    """One of ``MODES``, or several joined with ``+`` (e.g. ``shuffled+duplicates``)."""
    return bool(mode) and all(part in MODES for part in mode.split("+"))


def _has(mode: str, part: str) -> bool:
    return part in mode.split("+")


def sign_payload(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


@dataclass
class _Job:
    event_id: str
    payload: str
    not_before: float
    attempts: int = 0
    copies: int = 1


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    given_up: list[str] = field(default_factory=list)


class Deliverer:
    """Owns the queue and the worker thread; every public method is thread-safe."""

    def __init__(
        self,
        store: Store,
        url: str | None,
        secret: str,
        mode: str = "ordered",
        *,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.05,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.url = url
        self.secret = secret
        self.mode = mode
        self.delay_seconds = 0.0
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.timeout_seconds = timeout_seconds
        self.stats = DeliveryStats()
        self._queue: deque[_Job] = deque()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._session = requests.Session()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.url is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def configure(self, mode: str | None = None, delay_seconds: float | None = None) -> None:
        with self._cond:
            if mode is not None:
                if not valid_mode(mode):
                    raise ValueError(f"unknown delivery mode {mode!r}")
                self.mode = mode
            if delay_seconds is not None:
                self.delay_seconds = float(delay_seconds)
            self._cond.notify_all()

    def enqueue(self, event_id: str, payload: str) -> None:
        if self.url is None:
            return
        with self._cond:
            delay = self.delay_seconds if _has(self.mode, "delayed") else 0.0
            copies = 2 if _has(self.mode, "duplicates") else 1
            self._queue.append(_Job(event_id, payload, time.monotonic() + delay, copies=copies))
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    def flush(self, timeout: float = 60.0) -> dict[str, int]:
        """Block until nothing is queued or in flight (delivered or given up)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while (self._queue or self._in_flight) and time.monotonic() < deadline:
                self._cond.wait(timeout=0.05)
            return {
                "pending": len(self._queue) + self._in_flight,
                "delivered": self.stats.delivered,
                "failed": self.stats.failed,
                "attempts": self.stats.attempts,
                "given_up": len(self.stats.given_up),
            }

    # worker --------------------------------------------------------------------------------

    def _take_batch(self) -> list[_Job] | None:
        """Wait for jobs that are due; ``None`` when stopping."""
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                due = [job for job in self._queue if job.not_before <= now]
                if due:
                    if _has(self.mode, "shuffled"):
                        # Let a burst accumulate so there is something to reorder.
                        self._cond.wait(timeout=0.02)
                        now = time.monotonic()
                        due = [job for job in self._queue if job.not_before <= now]
                        random.shuffle(due)
                        batch = due
                    else:
                        batch = [due[0]]
                    for job in batch:
                        self._queue.remove(job)
                    self._in_flight += len(batch)
                    return batch
                wait = min((job.not_before for job in self._queue), default=now + 1) - now
                self._cond.wait(timeout=max(0.005, min(wait, 1.0)))
            return None

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            for job in batch:
                try:
                    self._deliver(job)
                except Exception:  # the worker must survive anything a receiver does
                    log.exception("webhook delivery crashed for %s", job.event_id)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()

    def _post(self, job: _Job) -> str | None:
        """One attempt; the error text, or None on a 2xx."""
        assert self.url is not None
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(job.payload, self.secret),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        try:
            response = self._session.post(
                self.url, data=job.payload.encode(), headers=headers, timeout=self.timeout_seconds
            )
        except requests.RequestException as error:
            return f"connection error: {error.__class__.__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def _deliver(self, job: _Job) -> None:
        for copy_index in range(job.copies):
            attempts = 0
            error: str | None = "not attempted"
            while attempts < self.max_attempts and not self._stopped:
                attempts += 1
                with self._cond:
                    self.stats.attempts += 1
                error = self._post(job)
                if error is None:
                    break
                # Back off before retrying: quick in tests, the real schedule is hours.
                time.sleep(self.retry_base_seconds * (2 ** (attempts - 1)))
            with self._cond:
                if error is None:
                    self.stats.delivered += 1
                else:
                    self.stats.failed += 1
                    self.stats.given_up.append(job.event_id)
            if copy_index == 0:
                self.store.mark_delivery(
                    job.event_id, "delivered" if error is None else "failed", attempts, error
                )
            if error is not None:
                log.warning("webhook %s gave up after %s attempts: %s", job.event_id, attempts, error)
                return
