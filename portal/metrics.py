"""Prometheus metrics (``prometheus-client``): what the portal counts, and the page that shows it.

One ``Metrics`` per app, in ``app.extensions["metrics"]``; the features report through the
functions below (``record_stripe_call``, ``record_webhook_event``), which do nothing in an app
built without metrics. HTTP requests are counted by the app's own request hooks, by the URL rule
that matched (``/practices/<id:practice_id>``), never the raw path, so ids do not make a series each.

Under gunicorn every worker is its own process: ``gunicorn.conf.py`` points
``PROMETHEUS_MULTIPROC_DIR`` at a directory before the workers start, each worker writes its
values there, a scrape (answered by any worker) reads them all, and ``child_exit`` marks a dead
worker's gauges gone. ``make run`` and the Procfile give a host's queue workers the same directory,
so what they count (webhook events applied, job failures, their Stripe calls) is in that host's
scrape. Without that variable (``flask run``, tests) the plain registry of the process answers.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterable

from flask import Flask, abort, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from werkzeug.datastructures import WWWAuthenticate

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: The circuit breaker's states as numbers; across gunicorn workers the gauge shows the worst live one.
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

#: The webhook inbox's outcomes as the metric names them.
WEBHOOK_OUTCOMES = {
    "processed": "applied",
    "duplicate": "duplicate",
    "failed": "failed",
    "ignored": "ignored",
    "queued": "queued",
}

#: Routes of the probes and the scrape: counted, but no access-log line (they are noise).
PROBE_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

#: A request that matched no route (a 404, a 405 before routing) has one series, not one per path.
UNMATCHED_ROUTE = "<unmatched>"
#: Every label a client could choose is bounded (attack 19 A2: gunicorn passes any token as a method,
#: and each made-up one was a new series in every scrape): the route is the matched URL rule, the
#: method one of these or ``OTHER_METHOD``.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The portal's metric objects and the registry a scrape reads."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess()
        if self.multiprocess:  # a queue worker may start before the web process made it
            os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)
        # Multiprocess: values go to files (per worker) and a fresh collector reads them all at scrape
        # time; the objects themselves are registered nowhere.
        self.registry = CollectorRegistry()
        into = None if self.multiprocess else self.registry
        self.http_requests = Counter(
            "portal_http_requests",
            "HTTP requests answered, by URL rule (never the raw path) and status",
            ["method", "route", "status"],
            registry=into,
        )
        self.http_latency = Histogram(
            "portal_http_request_duration_seconds",
            "Time to answer an HTTP request, by URL rule",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=into,
        )
        self.stripe_calls = Counter(
            "portal_stripe_calls",
            "Stripe API calls by operation and outcome (breaker_open and no_time_left were never sent)",
            ["operation", "outcome"],
            registry=into,
        )
        self.stripe_latency = Histogram(
            "portal_stripe_call_duration_seconds",
            "Time a Stripe API call took, retries included, by operation",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=into,
        )
        self.webhook_events = Counter(
            "portal_webhook_events",
            "Verified Stripe event deliveries by type and outcome (applied, duplicate, failed, ignored)",
            ["type", "outcome"],
            registry=into,
        )
        self.job_failures = Counter(
            "portal_job_failures",
            "Queue jobs that raised, by job and whether they are retried (retry) or failed for good (final)",
            ["job", "kind"],
            registry=into,
        )
        self.breaker_state = Gauge(
            "portal_stripe_circuit_breaker_state",
            "The Stripe circuit breaker: 0 closed, 1 half-open, 2 open (the worst of the live workers)",
            registry=into,
            multiprocess_mode="livemax",
        )
        self.breaker_state.set(0)  # closed from the start: each worker shows up in the gauge at once

    def scrape_registry(self) -> CollectorRegistry:
        if not self.multiprocess:
            return self.registry
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
        return registry


def init_metrics(app: Flask) -> None:
    """Metrics for ``app``, and the request hooks that count every answer."""
    app.extensions["metrics"] = Metrics()
    app.before_request(_start_clock)
    app.after_request(_count_request)


def _metrics() -> Metrics | None:
    return current_app.extensions.get("metrics")


def request_route() -> str:
    """The URL rule that matched this request (the label of its series)."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


def request_method() -> str:
    """The request's method as a label: a known one, else ``OTHER_METHOD``."""
    return request.method if request.method in KNOWN_METHODS else OTHER_METHOD


def request_seconds() -> float:
    started = g.get("request_started")
    return time.perf_counter() - started if started is not None else 0.0


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _count_request(response):
    metrics = _metrics()
    if metrics is not None:
        route, method = request_route(), request_method()
        metrics.http_requests.labels(method, route, str(response.status_code)).inc()
        metrics.http_latency.labels(method, route).observe(request_seconds())
    return response


def record_stripe_call(operation: str, outcome: str, seconds: float | None = None) -> None:
    """One Stripe call's outcome; ``seconds`` None when it was never sent."""
    metrics = _metrics()
    if metrics is None:
        return
    metrics.stripe_calls.labels(operation, outcome).inc()
    if seconds is not None:
        metrics.stripe_latency.labels(operation).observe(seconds)


def record_breaker_state(state: str) -> None:
    metrics = _metrics()
    if metrics is not None:
        metrics.breaker_state.set(BREAKER_STATES.get(state, 0))


def record_webhook_event(event_type: str, outcome: str) -> None:
    metrics = _metrics()
    if metrics is not None:
        metrics.webhook_events.labels(event_type, WEBHOOK_OUTCOMES.get(outcome, str(outcome))).inc()


def record_job_failure(job: str, *, final: bool) -> None:
    metrics = _metrics()
    if metrics is not None:
        metrics.job_failures.labels(job, "final" if final else "retry").inc()


class _ScrapeTimeGauges:
    """Gauges computed when a scrape asks (the outbox backlog): one reading, from the scraping worker."""

    def __init__(self, readings: dict[str, tuple[str, float]]) -> None:
        self.readings = readings

    def collect(self) -> Iterable[Metric]:
        for name, (documentation, value) in self.readings.items():
            yield GaugeMetricFamily(name, documentation, value=value)


def exposition(scrape_time: dict[str, tuple[str, float]], *, breaker_state: str | None = None) -> bytes:
    """The text a Prometheus scrape reads: every counter, plus ``scrape_time`` gauges read now (and
    this worker's breaker state, which it last wrote at its last Stripe call)."""
    metrics = current_app.extensions["metrics"]
    if breaker_state is not None:
        record_breaker_state(breaker_state)
    now = CollectorRegistry()
    now.register(_ScrapeTimeGauges(scrape_time))
    return generate_latest(metrics.scrape_registry()) + generate_latest(now)


#: Headers a reverse proxy adds: a request carrying one came through a proxy, not from this machine.
_FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def content_type() -> str:
    from prometheus_client import CONTENT_TYPE_LATEST

    return CONTENT_TYPE_LATEST


def check_scraper() -> None:
    """Who may read /metrics. With ``METRICS_TOKEN``: ``Authorization: Bearer <token>`` or 401.
    Without one: only a client on this machine talking to the portal directly (loopback, no proxy's
    forwarding header, since a proxy on the same host connects from loopback too); anyone else gets
    404, as if there were no such page."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = (
            request.authorization.token
            if request.authorization and request.authorization.type == "bearer"
            else None
        )
        if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
            abort(
                401,
                description="A valid bearer token is required.",
                www_authenticate=WWWAuthenticate("Bearer"),
            )
        return
    local = request.remote_addr in ("127.0.0.1", "::1")
    if not local or any(header in request.headers for header in _FORWARDING_HEADERS):
        abort(404)
