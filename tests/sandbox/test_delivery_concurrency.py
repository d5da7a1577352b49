"""Several deliveries in flight, as Stripe sends them (https://docs.stripe.com/webhooks#event-ordering):
a slow endpoint no longer makes a storm's events wait in single file, and each still lands once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from stripe_sandbox.delivery import Deliverer
from stripe_sandbox.testing import SandboxServer


class SlowEndpoint:
    """Answers 200 after ``seconds``; records each event and the most requests it held at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.received: Counter[str] = Counter()
        self.arrivals: list[str] = []
        self.most_at_once = 0
        self._now = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        with self._lock:
            self.arrivals.append(body)
            self._now += 1
            self.most_at_once = max(self.most_at_once, self._now)
        time.sleep(self.seconds)
        with self._lock:
            self._now -= 1
            self.received[body] += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def close(self) -> None:
        self._server.shutdown()


class _Store:
    def mark_delivery(self, event_id: str, status: str, attempts: int, error: str | None = None) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[SlowEndpoint]:
    served = SlowEndpoint(seconds=0.2)
    yield served
    served.close()


def _deliver(endpoint: SlowEndpoint, concurrency: int, events: int) -> float:
    deliverer = Deliverer(_Store(), endpoint.url, "whsec_x", concurrency=concurrency)  # type: ignore[arg-type]
    deliverer.start()
    started = time.monotonic()
    try:
        for n in range(events):
            deliverer.enqueue(f"evt_{n}", f"evt_{n}")
        assert deliverer.flush(timeout=30)["pending"] == 0
        return time.monotonic() - started
    finally:
        deliverer.stop()


def test_eight_in_flight_send_a_slow_endpoint_its_events_eight_at_a_time(endpoint: SlowEndpoint) -> None:
    took = _deliver(endpoint, concurrency=8, events=32)
    assert endpoint.most_at_once == 8
    assert took < 32 * 0.2 / 2  # single file would take 6.4 s; eight at a time about 0.8 s
    assert sorted(endpoint.received) == sorted(f"evt_{n}" for n in range(32))
    assert set(endpoint.received.values()) == {1}


def test_one_in_flight_is_the_default_and_keeps_the_order(endpoint: SlowEndpoint) -> None:
    _deliver(endpoint, concurrency=1, events=5)
    assert endpoint.most_at_once == 1
    assert endpoint.arrivals == [f"evt_{n}" for n in range(5)]


def test_the_control_endpoint_sets_and_checks_the_concurrency(endpoint: SlowEndpoint) -> None:
    with SandboxServer(webhook_url=endpoint.url) as sandbox:
        answer = requests.post(f"{sandbox.url}/_sandbox/delivery", json={"concurrency": 4}, timeout=10)
        assert answer.json()["concurrency"] == 4
        state = requests.get(f"{sandbox.url}/_sandbox/state", timeout=10).json()
        assert state["delivery"]["concurrency"] == 4
        control = f"{sandbox.url}/_sandbox/delivery"
        for wrong in (0, 65, "8", 2.5, True):
            refused = requests.post(control, json={"concurrency": wrong}, timeout=10)
            assert refused.status_code == 400 and "concurrency" in refused.json()["error"]["message"]
