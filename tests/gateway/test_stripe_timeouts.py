"""Finding 5: a hung Stripe must not hold a request for long (issue 14).

Every Stripe call has a connect and a read timeout of its own, retries stay inside
one budget per action (a web request shares it across all its calls), and after
repeated timeouts a circuit breaker fails Stripe actions at once with a clear
message, then lets one trial call through after a cool-down and recovers by itself.
"""

from __future__ import annotations

import time

import pytest
import requests

from portal import create_app
from portal.gateway.errors import StripeUnavailable
from portal.gateway.gateway import call_stripe, stripe_breaker_state, stripe_client
from tests.gateway.hung_stripe import HungStripe, closed_port_url

CONNECT, READ, BUDGET = 0.2, 0.5, 1.2
BREAKER_MESSAGE = "Stripe is not answering; nothing was charged; try again in a minute."


def _app(tmp_path, api_base: str, **overrides):
    settings = {
        "STRIPE_CONNECT_TIMEOUT_SECONDS": CONNECT,
        "STRIPE_READ_TIMEOUT_SECONDS": READ,
        "STRIPE_ACTION_BUDGET_SECONDS": BUDGET,
        "STRIPE_MAX_NETWORK_RETRIES": 1,
        **overrides,
    }
    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'portal.sqlite'}",
        STRIPE_API_BASE=api_base,
        **settings,
    )


def _create_customer():
    return call_stripe(
        "customer.create", lambda: stripe_client().v1.customers.create({"email": "hung@example.com"})
    )


def _timed_failure() -> tuple[float, StripeUnavailable]:
    started = time.monotonic()
    with pytest.raises(StripeUnavailable) as caught:
        _create_customer()
    return time.monotonic() - started, caught.value


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_hung_stripe_call_gives_up_after_the_read_timeout(tmp_path):
    with HungStripe() as hung:
        app = _app(tmp_path, hung.url)
        with app.app_context():
            elapsed, error = _timed_failure()
        # One attempt: a retry would not fit in what is left of the budget.
        assert READ - 0.05 <= elapsed < READ + 0.4, elapsed
        assert hung.connections == 1
    assert error.reached_stripe is True  # the request was sent: its outcome is unknown


def test_a_read_timeout_is_not_retried_even_with_time_left(tmp_path):
    with HungStripe() as hung:
        app = _app(tmp_path, hung.url, STRIPE_ACTION_BUDGET_SECONDS=5)
        with app.app_context():
            elapsed, _ = _timed_failure()
        assert elapsed < READ + 0.4 and hung.connections == 1  # a hung Stripe would only hang again


def test_connect_and_read_timeouts_are_separate_and_clamped_to_the_budget(tmp_path, monkeypatch):
    seen: list[object] = []

    def refuse(self, method, url, **kwargs):
        seen.append(kwargs["timeout"])
        raise requests.exceptions.ConnectTimeout("no answer to SYN")

    monkeypatch.setattr(requests.Session, "request", refuse)
    app = _app(tmp_path, "http://127.0.0.1:9", STRIPE_READ_TIMEOUT_SECONDS=8, STRIPE_ACTION_BUDGET_SECONDS=5)
    with app.app_context():
        elapsed, error = _timed_failure()
    connect, read = seen[0]
    assert connect == CONNECT and 4.5 < read <= 5  # 8 s read timeout, but only 5 s of budget
    assert len(seen) == 2 and elapsed < 5  # the retry fits the budget
    assert error.reached_stripe is False


def test_a_refused_connection_is_known_never_to_have_reached_stripe(tmp_path):
    app = _app(tmp_path, closed_port_url())
    with app.app_context():
        elapsed, error = _timed_failure()
    assert elapsed < BUDGET
    assert error.reached_stripe is False
    assert "Stripe could not be reached" in error.message and "nothing was charged" in error.message


def test_all_stripe_calls_of_one_request_share_one_budget(tmp_path):
    with HungStripe() as hung:
        app = _app(tmp_path, hung.url)
        with app.test_request_context("/account"):
            app.preprocess_request()
            started = time.monotonic()
            for _ in range(4):
                with pytest.raises(StripeUnavailable):
                    _create_customer()
            elapsed = time.monotonic() - started
        assert elapsed < BUDGET + 0.2, elapsed
        assert hung.connections == 2  # the third and fourth calls found no budget left


def test_the_breaker_opens_after_repeated_timeouts_and_fails_fast(tmp_path):
    with HungStripe() as hung:
        app = _app(tmp_path, hung.url, STRIPE_BREAKER_THRESHOLD=3, STRIPE_BREAKER_COOLDOWN_SECONDS=30)
        clock = FakeClock()
        app.extensions["stripe_breaker"].clock = clock
        with app.app_context():
            for _ in range(3):
                _timed_failure()
            assert stripe_breaker_state()["state"] == "open"
            elapsed, error = _timed_failure()
            assert elapsed < 0.05 and hung.connections == 3  # nothing sent
            assert error.message == BREAKER_MESSAGE and error.reached_stripe is False

            clock.now += 31  # the cool-down is over: one trial call goes through, and times out
            _timed_failure()
            assert hung.connections == 4
            assert stripe_breaker_state()["state"] == "open"
            elapsed, error = _timed_failure()
            assert elapsed < 0.05 and error.message == BREAKER_MESSAGE


def test_the_breaker_recovers_by_itself_when_stripe_answers_again(tmp_path, sandbox):
    app = _app(tmp_path, sandbox.url, STRIPE_BREAKER_THRESHOLD=2, STRIPE_BREAKER_COOLDOWN_SECONDS=30)
    clock = FakeClock()
    app.extensions["stripe_breaker"].clock = clock
    with app.app_context():
        with sandbox.outage(refuse=True):
            for _ in range(2):
                _timed_failure()
        assert stripe_breaker_state()["state"] == "open"
        assert _timed_failure()[1].message == BREAKER_MESSAGE  # Stripe is back, but the breaker is open
        clock.now += 31
        assert _create_customer().id.startswith("cus_")
        state = stripe_breaker_state()
        assert state["state"] == "closed" and state["consecutive_failures"] == 0
        assert state["times_opened"] == 1
