"""Webhook delivery: a background thread POSTs each event, signed like Stripe does.

The signature is ``t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">`` with the endpoint secret, so
``stripe.Webhook.construct_event`` accepts it. ``t`` is real wall-clock time (not the sandbox
clock), because receivers reject signatures older than five minutes.

Modes reproduce what real Stripe may do to a receiver: ``ordered`` (one at a time, in order),
``shuffled`` (whatever is queued goes out in random order), ``duplicates`` (every event twice),
``delayed`` (each event waits ``delay_seconds`` before its first attempt). Modes combine with
``+``: ``shuffled+duplicates`` sends every event twice, in random order.

``concurrency`` is how many deliveries are in flight at once (1 unless set: the tests' order is
then the order events were made). Stripe sends an endpoint's events concurrently and "doesn't
guarantee delivery of events in the order in which they're generated"
(https://docs.stripe.com/webhooks#event-ordering); with more than one in flight, events are taken
in order but may land out of it, as there. A load like a renewal storm needs it: one at a time,
100,000 events are hours of round trips however fast the receiver answers.

A failed attempt is retried as Stripe retries (https://docs.stripe.com/webhooks#retries: "in live
mode, Stripe attempts to deliver a given event to your webhook endpoint for up to 3 days with an
exponential back off"): after 1 s, 2 s, 4 s ... capped at ``max_backoff_seconds`` (1 hour), until
``retry_window_seconds`` (3 days) after the first attempt. A retry waits in the queue, never in the
worker, so one endpoint being down blocks nothing else; the dashboard lists what waits.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import logging
import random
import threading
import time
from dataclasses import dataclass, field

import requests

from stripe_sandbox.store import Store

log = logging.getLogger("stripe_sandbox.delivery")

MODES = ("ordered", "shuffled", "duplicates", "delayed")
#: The most deliveries a sandbox keeps in flight (a thread each).
MAX_CONCURRENCY = 64


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


#: Stripe's retry window and the longest wait between two attempts.
RETRY_WINDOW_SECONDS = 3 * 24 * 3600
MAX_BACKOFF_SECONDS = 3600.0


@dataclass(order=True)
class _Job:
    #: Queue order: when due, then when queued (``seq``); the rest is not compared.
    not_before: float
    seq: int
    event_id: str = field(compare=False)
    payload: str = field(compare=False)
    attempts: int = field(default=0, compare=False)
    copies: int = field(default=1, compare=False)
    first_attempt: float | None = field(default=None, compare=False)
    delivered_once: bool = field(default=False, compare=False)
    last_error: str | None = field(default=None, compare=False)


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    given_up: list[str] = field(default_factory=list)


class Deliverer:
    """Owns the queue and the worker threads; every public method is thread-safe."""

    def __init__(
        self,
        store: Store,
        url: str | None,
        secret: str,
        mode: str = "ordered",
        *,
        concurrency: int = 1,
        max_attempts: int | None = None,
        retry_base_seconds: float = 1.0,
        max_backoff_seconds: float = MAX_BACKOFF_SECONDS,
        retry_window_seconds: float = RETRY_WINDOW_SECONDS,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.url = url
        self.secret = secret
        self.mode = mode
        self.delay_seconds = 0.0
        self.concurrency = _valid_concurrency(concurrency)
        #: None: retried for the whole window, as Stripe does; a number caps the attempts (tests).
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.retry_window_seconds = retry_window_seconds
        self.timeout_seconds = timeout_seconds
        self.stats = DeliveryStats()
        #: A heap of jobs by (due, queued): taking the next due one is O(log n), not a scan of
        #: every waiting event (a storm queues 100,000).
        self._queue: list[_Job] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._local = threading.local()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self.url is None:
            return
        with self._cond:
            self._stopped = False
            while len(self._threads) < self.concurrency:
                thread = threading.Thread(
                    target=self._run, args=(len(self._threads),), name="sandbox-webhooks", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=5)

    def configure(
        self, mode: str | None = None, delay_seconds: float | None = None, concurrency: int | None = None
    ) -> None:
        # Every value checked before any is set: a refused call changes nothing.
        if mode is not None and not valid_mode(mode):
            raise ValueError(f"unknown delivery mode {mode!r}")
        delay = None if delay_seconds is None else float(delay_seconds)
        in_flight = None if concurrency is None else _valid_concurrency(concurrency)
        with self._cond:
            self.mode = mode if mode is not None else self.mode
            self.delay_seconds = delay if delay is not None else self.delay_seconds
            self.concurrency = in_flight if in_flight is not None else self.concurrency
            self._cond.notify_all()
        if concurrency is not None and self._threads:
            self.start()  # more threads if it grew; a thread past the new number idles

    def enqueue(self, event_id: str, payload: str) -> None:
        if self.url is None:
            return
        with self._cond:
            delay = self.delay_seconds if _has(self.mode, "delayed") else 0.0
            copies = 2 if _has(self.mode, "duplicates") else 1
            self._push(_Job(time.monotonic() + delay, 0, event_id, payload, copies=copies))
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    def waiting(self) -> list[dict[str, object]]:
        """The deliveries not yet made (the dashboard's list): event, attempts so far, last error and
        seconds until the next attempt."""
        now = time.monotonic()
        with self._cond:
            return [
                {
                    "event_id": job.event_id,
                    "attempts": job.attempts,
                    "last_error": job.last_error,
                    "next_attempt_in": max(0.0, round(job.not_before - now, 1)),
                }
                for job in sorted(self._queue)
            ]

    def flush(self, timeout: float = 60.0) -> dict[str, int]:
        """Block until nothing is in flight or due before ``timeout`` (delivered, given up, or
        waiting for a retry later than that: ``pending`` counts those)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while time.monotonic() < deadline and (
                self._in_flight or (self._queue and self._queue[0].not_before <= deadline)
            ):
                self._cond.wait(timeout=0.05)
            return {
                "pending": len(self._queue) + self._in_flight,
                "delivered": self.stats.delivered,
                "failed": self.stats.failed,
                "attempts": self.stats.attempts,
                "given_up": len(self.stats.given_up),
            }

    # workers -------------------------------------------------------------------------------

    def _push(self, job: _Job) -> None:
        """Under ``_cond``: queue ``job`` behind everything due at the same time."""
        job.seq = next(self._seq)
        heapq.heappush(self._queue, job)

    def take_due(self, now: float) -> list[_Job]:
        """Under ``_cond`` (or single-threaded, in tests): the jobs to send now, taken out of the
        queue: the next due one, or every due one in random order (``shuffled``)."""
        if not self._queue or self._queue[0].not_before > now:
            return []
        if not _has(self.mode, "shuffled"):
            return [heapq.heappop(self._queue)]
        due = []
        while self._queue and self._queue[0].not_before <= now:
            due.append(heapq.heappop(self._queue))
        random.shuffle(due)
        return due

    def _take_batch(self, worker: int) -> list[_Job] | None:
        """Wait for jobs that are due; ``None`` when stopping."""
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                idle = worker >= self.concurrency
                if not idle and self._queue and self._queue[0].not_before <= now:
                    if _has(self.mode, "shuffled"):
                        # Let a burst accumulate so there is something to reorder.
                        self._cond.wait(timeout=0.02)
                    batch = self.take_due(time.monotonic())
                    if batch:
                        self._in_flight += len(batch)
                        return batch
                    continue
                wait = (self._queue[0].not_before if self._queue and not idle else now + 1) - now
                self._cond.wait(timeout=max(0.005, min(wait, 1.0)))
            return None

    def _run(self, worker: int) -> None:
        while True:
            batch = self._take_batch(worker)
            if batch is None:
                return
            for job in batch:
                try:
                    self._deliver(job)
                except Exception:  # a worker must survive anything a receiver does
                    log.exception("webhook delivery crashed for %s", job.event_id)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()

    def _session(self) -> requests.Session:
        """One connection pool per worker thread (a ``requests.Session`` is not thread-safe)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _post(self, job: _Job) -> str | None:
        """One attempt; the error text, or None on a 2xx."""
        assert self.url is not None
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign_payload(job.payload, self.secret),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        try:
            response = self._session().post(
                self.url, data=job.payload.encode(), headers=headers, timeout=self.timeout_seconds
            )
        except requests.RequestException as error:
            return f"connection error: {error.__class__.__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def _deliver(self, job: _Job) -> None:
        """One attempt of one copy; a failure goes back in the queue for its retry (or gives up)."""
        now = time.monotonic()
        if job.first_attempt is None:
            job.first_attempt = now
        job.attempts += 1
        with self._cond:
            self.stats.attempts += 1
        error = self._post(job)
        if error is None:
            self._delivered(job)
            return
        job.last_error = error
        wait = min(self.retry_base_seconds * 2 ** (job.attempts - 1), self.max_backoff_seconds)
        out_of_time = now + wait - job.first_attempt > self.retry_window_seconds
        out_of_attempts = self.max_attempts is not None and job.attempts >= self.max_attempts
        if out_of_time or out_of_attempts or self._stopped:
            with self._cond:
                self.stats.failed += 1
                self.stats.given_up.append(job.event_id)
            if not job.delivered_once:
                self.store.mark_delivery(job.event_id, "failed", job.attempts, error)
            log.warning("webhook %s gave up after %s attempts: %s", job.event_id, job.attempts, error)
            return
        if not job.delivered_once:
            self.store.mark_delivery(job.event_id, "pending", job.attempts, error)
        self._requeue(job, now + wait)

    def _delivered(self, job: _Job) -> None:
        with self._cond:
            self.stats.delivered += 1
        if not job.delivered_once:
            self.store.mark_delivery(job.event_id, "delivered", job.attempts, None)
            job.delivered_once = True
        job.copies -= 1
        if job.copies > 0:  # ``duplicates``: the next copy, with attempts of its own
            job.attempts, job.first_attempt, job.last_error = 0, None, None
            self._requeue(job, time.monotonic())

    def _requeue(self, job: _Job, not_before: float) -> None:
        with self._cond:
            job.not_before = not_before
            self._push(job)
            self._cond.notify_all()


def _valid_concurrency(concurrency: object) -> int:
    """A whole number of deliveries in flight, 1 to ``MAX_CONCURRENCY`` (not a bool, text or float)."""
    whole = isinstance(concurrency, int) and not isinstance(concurrency, bool)
    if not whole or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}")
    return concurrency
