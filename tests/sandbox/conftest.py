"""A sandbox per test module, and a tiny webhook endpoint that verifies every signature."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from stripe_sandbox.testing import SandboxServer

SECRET = "whsec_test_receiver"


def pytest_configure(config: pytest.Config) -> None:
    # The project's pyproject registers ``e2e``; registering here too keeps this folder runnable alone.
    config.addinivalue_line("markers", "e2e: drives Debian's Chromium through Playwright")


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Receiver:
    """Records events whose ``Stripe-Signature`` verifies; answers 400 to anything else."""

    def __init__(self, port: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.fail_next = 0
        self.hits = 0
        self._lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, self._app, threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/webhooks/stripe"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        payload = request.get_data(as_text=True)
        with self._lock:
            self.hits += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response("try later", status=500)(environ, start_response)
        try:
            event = stripe.Webhook.construct_event(
                payload, request.headers.get("Stripe-Signature", ""), SECRET
            )
        except (stripe.SignatureVerificationError, ValueError):
            with self._lock:
                self.bad_signatures += 1
            return Response("bad signature", status=400)(environ, start_response)
        with self._lock:
            self.events.append(json.loads(payload))
        assert event.id
        return Response("ok", status=200)(environ, start_response)

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
            self.bad_signatures = 0
            self.hits = 0

    def types(self, related_to: str | None = None) -> list[str]:
        """Event types received, optionally only those whose object mentions ``related_to``."""
        with self._lock:
            events = list(self.events)
        return [
            e["type"] for e in events if related_to is None or related_to in json.dumps(e["data"]["object"])
        ]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["type"] == event_type]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def server(receiver: Receiver) -> Iterator[SandboxServer]:
    with SandboxServer(webhook_url=receiver.url, webhook_secret=SECRET) as srv:
        srv.set_delivery("ordered", retry_base_seconds=0.01)
        yield srv


@pytest.fixture
def sandbox(server: SandboxServer, receiver: Receiver) -> Iterator[SandboxServer]:
    """The module's sandbox with an empty inbox; delivery back to ordered afterwards."""
    server.flush_events()
    receiver.clear()
    yield server
    server.set_delivery("ordered")
    server.flush_events()


@pytest.fixture
def client(sandbox: SandboxServer) -> stripe.StripeClient:
    return sandbox.client()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
