"""/metrics: who may read it, and what it counts (requests by URL rule, Stripe calls, webhook events,
the outbox backlog, the circuit breaker)."""

from __future__ import annotations

import pytest

from portal import create_app
from portal.extensions import db
from portal.gateway.customers import create_customer, retrieve_customer
from portal.gateway.errors import NotFound, StripeUnavailable
from tests.factories import OutboundEmailFactory
from tests.operations.scrape import scrape, series, value
from tests.smtp import free_port
from tests.stripe_payloads import SECRETS_CONFIG, customer, deliver, make_event, payment_method

TOKEN = "scrape-token-0123456789"
METRIC_NAMES = (
    "portal_http_requests_total",
    "portal_http_request_duration_seconds",
    "portal_stripe_calls_total",
    "portal_stripe_call_duration_seconds",
    "portal_webhook_events_total",
    "portal_stripe_circuit_breaker_state",
    "portal_outbox_unsent_emails",
)


@pytest.fixture
def app_overrides() -> dict:
    return {"STRIPE_WEBHOOK_SECRET": SECRETS_CONFIG}


# --- Who may read it ---------------------------------------------------------------------------


def test_with_a_token_only_its_bearer_reads_the_metrics(app_factory):
    client = app_factory(METRICS_TOKEN=TOKEN).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].lower().startswith("bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    text = response.get_data(as_text=True)
    assert all(f"# TYPE {name.removesuffix('_total')}" in text for name in METRIC_NAMES)


def test_with_a_token_even_this_machine_needs_it(app_factory):
    client = app_factory(METRICS_TOKEN=TOKEN).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 401


def test_without_a_token_only_this_machine_reads_them_and_nobody_else_learns_they_exist(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    # A reverse proxy on the same machine connects from loopback too, and says whom it forwards.
    proxied = client.get(
        "/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert proxied.status_code == 404


# --- HTTP requests -----------------------------------------------------------------------------


def test_requests_count_by_url_rule_so_two_ids_make_one_series(client):
    rule = "/practices/<int:practice_id>"
    before = scrape(client)
    for practice_id in (101, 202):
        client.get(f"/practices/{practice_id}")  # anonymous: off to the login page
    after = scrape(client)
    counted = value(after, "portal_http_requests_total", route=rule, method="GET", status="302")
    assert counted - value(before, "portal_http_requests_total", route=rule) == 2
    assert len(series(after, "portal_http_requests_total", route=rule)) == 1
    assert not [
        s for s in series(after, "portal_http_requests_total") if "101" in s["route"] or "202" in s["route"]
    ]
    assert value(after, "portal_http_request_duration_seconds_count", route=rule) >= 2


def test_a_path_no_route_matches_is_one_series_whatever_the_path(client):
    before = scrape(client)
    client.get("/no/such/page/1")
    client.get("/no/such/page/2")
    after = scrape(client)
    labels = {"route": "<unmatched>", "status": "404"}
    assert (
        value(after, "portal_http_requests_total", **labels)
        - value(before, "portal_http_requests_total", **labels)
        == 2
    )


def test_made_up_methods_are_one_series_whatever_the_method(client):
    """Attack 19 A2: gunicorn passes any token as a method; each made-up one was a new series."""
    for n in range(20):
        client.open("/", method=f"M{n}X")
    methods = {labels["method"] for labels in series(scrape(client), "portal_http_requests_total")}
    assert "other" in methods and not any(method.startswith("M") for method in methods)
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert value(scrape(client), "portal_http_requests_total", method="other", status="405") == 20


# --- Stripe calls ------------------------------------------------------------------------------


def _stripe_calls(client, operation: str, outcome: str) -> float:
    return value(scrape(client), "portal_stripe_calls_total", operation=operation, outcome=outcome)


def test_stripe_calls_count_by_operation_and_outcome_against_the_sandbox(app, client):
    ok_before = _stripe_calls(client, "customer.retrieve", "ok")
    missing_before = _stripe_calls(client, "customer.retrieve", "invalid_request")
    created = create_customer(
        name="Metrics", email="metrics@example.com", metadata={}, description="t", key=("m",)
    )
    retrieve_customer(created.id)
    with pytest.raises(NotFound):
        retrieve_customer("cus_doesnotexist000")
    text = scrape(client)
    assert (
        value(text, "portal_stripe_calls_total", operation="customer.retrieve", outcome="ok") == ok_before + 1
    )
    missing = value(
        text, "portal_stripe_calls_total", operation="customer.retrieve", outcome="invalid_request"
    )
    assert missing == missing_before + 1
    assert value(text, "portal_stripe_call_duration_seconds_count", operation="customer.retrieve") >= 2


def test_stripe_down_counts_connection_failures_then_breaker_open(app_factory):
    app = app_factory(STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}", STRIPE_BREAKER_THRESHOLD=1)
    client = app.test_client()
    with app.app_context():
        for _ in range(2):
            with pytest.raises(StripeUnavailable):
                retrieve_customer("cus_anyone")
    text = scrape(client)
    assert value(text, "portal_stripe_calls_total", operation="customer.retrieve", outcome="connection") == 1
    assert (
        value(text, "portal_stripe_calls_total", operation="customer.retrieve", outcome="breaker_open") == 1
    )
    assert value(text, "portal_stripe_circuit_breaker_state") == 2  # open


def test_a_stripe_read_that_times_out_counts_as_timeout(app_factory):
    from tests.gateway.hung_stripe import HungStripe

    with HungStripe() as hung:
        app = app_factory(STRIPE_API_BASE=hung.url, STRIPE_READ_TIMEOUT_SECONDS=0.3)
        with app.app_context(), pytest.raises(StripeUnavailable):
            retrieve_customer("cus_anyone")
    assert value(scrape(app.test_client()), "portal_stripe_calls_total", outcome="timeout") == 1


# --- Webhook events, the outbox ----------------------------------------------------------------


def _events(client, **labels: str) -> float:
    return value(scrape(client), "portal_webhook_events_total", **labels)


def test_webhook_events_count_by_type_and_outcome(client, monkeypatch):
    kind = "payment_method.attached"
    applied, duplicate = (
        _events(client, type=kind, outcome="applied"),
        _events(client, type=kind, outcome="duplicate"),
    )
    event = make_event(kind, payment_method("pm_metrics", "cus_metrics"))
    assert deliver(client, event).status_code == 200
    assert deliver(client, event).status_code == 200  # Stripe delivers it again
    assert _events(client, type=kind, outcome="applied") == applied + 1
    assert _events(client, type=kind, outcome="duplicate") == duplicate + 1

    ignored = _events(client, type="charge.dispute.funds_reinstated", outcome="ignored")
    deliver(client, make_event("charge.dispute.funds_reinstated", customer("cus_metrics")))
    assert _events(client, type="charge.dispute.funds_reinstated", outcome="ignored") == ignored + 1


def test_a_failing_webhook_handler_counts_as_failed(client, monkeypatch):
    from portal.webhooks import services

    def broken(event):
        raise RuntimeError("handler bug")

    monkeypatch.setattr(services, "handler_for", lambda event_type: broken)
    kind = "customer.updated"
    failed = _events(client, type=kind, outcome="failed")
    deliver(client, make_event(kind, customer("cus_metrics")))
    assert _events(client, type=kind, outcome="failed") == failed + 1


def test_the_outbox_backlog_is_read_at_each_scrape(app, client):
    assert value(scrape(client), "portal_outbox_unsent_emails") == 0
    OutboundEmailFactory.create_batch(3)
    assert value(scrape(client), "portal_outbox_unsent_emails") == 3
    db.session.rollback()


def test_with_the_database_down_the_counters_are_still_served(sandbox):
    closed = "sqlite:////nonexistent-directory/closed/portal.sqlite"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=closed, STRIPE_API_BASE=sandbox.url)
    client = app.test_client()
    client.get("/healthz")
    text = scrape(client)
    assert value(text, "portal_http_requests_total", route="/healthz") == 1
    assert value(text, "portal_scrape_database_up") == 0
    assert "portal_outbox_unsent_emails" not in text


def test_a_declined_card_counts_as_card_error(app, client):
    from portal.gateway.errors import CardDeclined
    from portal.gateway.payment_methods import attach_payment_method

    created = create_customer(
        name="Declined", email="declined@example.com", metadata={}, description="t", key=("d",)
    )
    with pytest.raises(CardDeclined):  # as at Stripe, a decline test card is refused when saved
        attach_payment_method(created.id, "pm_card_chargeDeclined")
    text = scrape(client)
    assert (
        value(text, "portal_stripe_calls_total", operation="payment_method.attach", outcome="card_error") == 1
    )
