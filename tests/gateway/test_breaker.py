"""The circuit breaker in front of Stripe, on a fake clock."""

from __future__ import annotations

from portal.gateway.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def _breaker(threshold: int = 3, cooldown: float = 30.0) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(threshold=threshold, cooldown_seconds=cooldown, clock=clock), clock


def test_it_opens_after_threshold_consecutive_failures_only():
    breaker, _ = _breaker()
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.allow()
    breaker.record_success()  # an answer resets the count
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state()["state"] == "closed"
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state()["state"] == "open"
    assert not breaker.allow()


def test_after_the_cooldown_exactly_one_trial_goes_through():
    breaker, clock = _breaker(threshold=1, cooldown=30)
    breaker.allow()
    breaker.record_failure()
    clock.now += 29.9
    assert not breaker.allow()
    assert breaker.state()["retry_in_seconds"] == 0.1
    clock.now += 0.1
    assert breaker.allow()  # the trial
    assert breaker.state()["state"] == "half_open"
    assert not breaker.allow() and not breaker.allow()  # everyone else still fails fast
    breaker.record_success()
    assert breaker.state()["state"] == "closed"
    assert all(breaker.allow() for _ in range(5))


def test_a_failed_trial_opens_it_for_another_cooldown():
    breaker, clock = _breaker(threshold=2, cooldown=10)
    for _ in range(2):
        breaker.allow()
        breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    state = breaker.state()
    assert state["state"] == "open" and state["retry_in_seconds"] == 10 and state["times_opened"] == 2
    clock.now += 10
    assert breaker.allow()


def test_a_trial_that_ends_without_a_verdict_frees_the_slot():
    breaker, clock = _breaker(threshold=1, cooldown=5)
    breaker.allow()
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.release()  # the call failed for a reason that says nothing about Stripe
    assert breaker.state()["state"] == "half_open"
    assert breaker.allow()


def test_state_reports_what_a_metrics_page_needs():
    breaker, _ = _breaker(threshold=4, cooldown=30)
    breaker.allow()
    breaker.record_failure()
    assert breaker.state() == {
        "state": "closed",
        "consecutive_failures": 1,
        "threshold": 4,
        "cooldown_seconds": 30,
        "retry_in_seconds": 0,
        "times_opened": 0,
    }


def test_once_the_cooldown_is_over_it_reads_half_open_before_any_call():
    """Attack 19 A8: the scrape kept reading "open" after Stripe was back until a customer's call
    happened to pass through that worker; an alert on open must clear by itself."""
    breaker, clock = _breaker(threshold=1, cooldown=30)
    breaker.record_failure()
    assert breaker.state()["state"] == "open"
    clock.now += 30
    assert (breaker.state()["state"], breaker.state()["retry_in_seconds"]) == ("half_open", 0.0)
    assert breaker.allow()  # the trial goes through, as the state says
    assert not breaker.allow()
