"""Stripe's rate limit (429 ``rate_limit``) meets the portal's gateway: back off, retry, no outage.

https://docs.stripe.com/rate-limits: past the limit (25 operations/s in test mode) Stripe answers
429 and asks clients to retry with an exponential back-off. The SDK retries only 409 and 5xx, so
the gateway's HTTP client retries a 429 itself (``STRIPE_RATE_LIMIT_RETRIES``) inside the action's
budget; a 429 is an answer, so it never counts towards the circuit breaker.
"""

from __future__ import annotations

import pytest

from portal import create_app
from portal.gateway.errors import StripeUnavailable
from portal.gateway.gateway import call_stripe, stripe_breaker_state, stripe_client
from stripe_sandbox.testing import SandboxServer


@pytest.fixture
def limited():
    """A sandbox of its own that allows 2 requests a second (Stripe's rule, a smaller number)."""
    with SandboxServer(webhook_url=None) as server:
        server.strict_mode(per_second=2)
        yield server


def _app(tmp_path, sandbox: SandboxServer, **overrides):
    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'portal.sqlite'}",
        STRIPE_API_BASE=sandbox.url,
        STRIPE_BREAKER_THRESHOLD=2,
        **overrides,
    )


def _burst(app, count: int) -> list[str]:
    with app.app_context():
        return [
            call_stripe(
                "customer.create", lambda i=i: stripe_client().v1.customers.create({"name": f"c{i}"})
            ).id
            for i in range(count)
        ]


def test_a_burst_over_the_limit_is_retried_and_succeeds(tmp_path, limited):
    app = _app(tmp_path, limited)
    ids = _burst(app, 8)
    assert len(set(ids)) == 8
    assert limited.requests_seen()["rate_limited"] > 0  # the limit was hit, and retried through
    with app.app_context():
        assert stripe_breaker_state()["state"] == "closed"
        assert stripe_breaker_state()["consecutive_failures"] == 0


def test_without_retries_a_429_is_a_plain_error_not_an_outage(tmp_path, limited):
    app = _app(tmp_path, limited, STRIPE_RATE_LIMIT_RETRIES=0)
    with pytest.raises(StripeUnavailable):
        _burst(app, 8)
    with app.app_context():
        assert stripe_breaker_state()["state"] == "closed"
        assert stripe_breaker_state()["consecutive_failures"] == 0


def test_a_429_storm_says_stripe_is_busy_and_logs_the_rate_limit_code(tmp_path, limited, caplog):
    """Finding 21b-3: another client eats the whole limit (forced through the control API): once the
    retries are spent the person reads that Stripe is busy and nothing was charged (a 429 is never
    processed, https://docs.stripe.com/rate-limits), not "could not be reached", and the log keeps
    Stripe's ``rate_limit`` code."""
    limited.strict_mode(per_second=0)  # every request over the limit
    app = _app(tmp_path, limited, STRIPE_RATE_LIMIT_RETRIES=1)
    with pytest.raises(StripeUnavailable) as raised:
        _burst(app, 1)
    assert raised.value.message == "Stripe is busy right now; nothing was charged. Try again in a minute."
    assert raised.value.stripe_code == "rate_limit"
    assert raised.value.reached_stripe is False
    assert "stripe_code=rate_limit" in caplog.text
    assert limited.requests_seen()["rate_limited"] == 2  # the first try and its one retry
