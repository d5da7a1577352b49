"""Run the sandbox in-process for tests and benchmarks.

with SandboxServer(webhook_url=...) as sandbox:
    client = sandbox.client()
    client.v1.customers.create({"email": "a@example.com"})
    sandbox.advance(days=31)
    sandbox.flush_events()
"""

from __future__ import annotations

import os
import tempfile
import threading
from types import TracebackType
from typing import Any, Self

import requests
import stripe
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from werkzeug.serving import BaseWSGIServer, make_server

from stripe_sandbox import defaults
from stripe_sandbox.app import SandboxRequestHandler, create_sandbox_app


class RateLimitRetryingClient(stripe.RequestsClient):
    """Retries 429 answers (up to ``RETRIES`` times, with the SDK's back-off); the SDK alone does not."""

    RETRIES = 6

    def _should_retry(self, response: Any, connection_error: Any, num_retries: int, max_retries: Any) -> bool:
        if response is not None and response[1] == 429 and num_retries < self.RETRIES:
            return True
        return super()._should_retry(response, connection_error, num_retries, max_retries)


class _QuietHandler(SandboxRequestHandler):
    """No access log: test output stays readable."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _Outage:
    """Returned by ``SandboxServer.outage``; leaving the ``with`` block ends the outage."""

    def __init__(self, server: SandboxServer) -> None:
        self._server = server

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.outage(False)


class SandboxServer:
    """The sandbox on a free loopback port, served by a background thread."""

    def __init__(
        self,
        database_path: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str = defaults.WEBHOOK_SECRET,
        *,
        delivery_mode: str = "ordered",
        host: str = "127.0.0.1",
        port: int = 0,
        strict: bool = True,
        rate_limit: bool = True,
    ) -> None:
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        if database_path is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="sandbox-")
            database_path = os.path.join(self._tmpdir.name, "sandbox.sqlite")
        self.database_path = database_path
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.delivery_mode = delivery_mode
        self.host = host
        self.port = port
        self.strict = strict
        self.rate_limit = rate_limit
        self.app: Any = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._http = requests.Session()

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        self.app = create_sandbox_app(
            self.database_path,
            self.webhook_url,
            self.webhook_secret,
            delivery_mode=self.delivery_mode,
            strict=self.strict,
            rate_limit=self.rate_limit,
        )
        self._listen()
        return self

    def _listen(self) -> None:
        self._server = make_server(
            self.host, self.port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-http", daemon=True)
        self._thread.start()

    def _close_socket(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def stop(self) -> None:
        self._close_socket()
        if self.app is not None:
            self.app.extensions["stripe_sandbox"].close()
            self.app = None
        self._http.close()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def sandbox(self) -> Any:
        """The in-process ``Sandbox`` (state, deliverer), for white-box assertions."""
        return self.app.extensions["stripe_sandbox"]

    # clients -------------------------------------------------------------------------------

    def client(self, api_key: str = "sk_test_sandbox", **options: Any) -> stripe.StripeClient:
        """An SDK client for this sandbox; it retries a 429 (rate limit) with back-off, as Stripe
        asks of every client (https://docs.stripe.com/rate-limits), and nothing else."""
        options.setdefault("max_network_retries", 0)
        options.setdefault("http_client", RateLimitRetryingClient())
        return stripe.StripeClient(api_key, base_addresses={"api": self.url}, **options)

    def http_session(self, api_key: str | None = None) -> requests.Session:
        """A ``requests`` session for raw ``/v1`` calls that backs off and retries a 429, like ``client``."""
        session = requests.Session()
        retry = Retry(total=6, status_forcelist=[429], allowed_methods=None, backoff_factor=0.25)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        if api_key:
            session.headers["Authorization"] = f"Bearer {api_key}"
        return session

    def _control(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self._http.post(f"{self.url}/_sandbox/{path}", json=payload or {}, timeout=120)
        response.raise_for_status()
        return response.json()

    # controls ------------------------------------------------------------------------------

    def advance(self, days: float = 0, seconds: int = 0) -> dict[str, Any]:
        """Move the sandbox clock; everything due runs, and the webhooks are flushed."""
        return self._control("clock/advance", {"days": days, "seconds": seconds})

    def now(self) -> int:
        return int(self._http.get(f"{self.url}/_sandbox/clock", timeout=10).json()["now"])

    def flush_events(self, timeout: float = 60) -> dict[str, int]:
        return self._control("events/flush", {"timeout": timeout})

    def set_delivery(self, mode: str, delay_seconds: float = 0, **extra: Any) -> dict[str, Any]:
        return self._control("delivery", {"mode": mode, "delay_seconds": delay_seconds, **extra})

    def set_latency(self, ms: int) -> None:
        self._control("latency", {"ms": ms})

    def fail_next(self, n: int, status: int = 500) -> None:
        self._control("fail_next", {"n": n, "status": status})

    def outage(self, on: bool = True, status: int = 503, *, refuse: bool = False) -> _Outage:
        """Every ``/v1`` call answers ``status`` (api_error), or with ``refuse=True`` the port stops
        accepting connections (the SDK raises APIConnectionError), until turned off.

        Works as a call (``outage(True)`` ... ``outage(False)``) or a block (``with sandbox.outage():``).
        """
        if on and refuse:
            self._close_socket()
            return _Outage(self)
        if not on and self._server is None and self.app is not None:
            self._listen()  # same port: clients configured with ``url`` keep working
        self._control("outage", {"on": on, "status": status})
        return _Outage(self)

    def reset(self) -> None:
        """Wipe every object, idempotency key and the clock offset (see ``POST /_sandbox/reset``)."""
        self._control("reset")

    def settings(self, **values: Any) -> dict[str, Any]:
        return self._control("settings", values)

    def authenticate(self, intent_id: str, outcome: str = "complete") -> dict[str, Any]:
        """Press "Complete" (or "Fail") on the 3-D Secure challenge of a SetupIntent/PaymentIntent."""
        return self._control("authenticate", {"intent": intent_id, "outcome": outcome})

    def decline_card(
        self, payment_method_id: str, decline_code: str | None, charges: int | None = None
    ) -> dict[str, Any]:
        """A test hook Stripe lacks: the saved card's next ``charges`` charges (all, when None) are
        declined with ``decline_code``, as Stripe declines them; ``decline_code=None`` clears it."""
        payload: dict[str, Any] = {"decline_code": decline_code}
        if charges is not None:
            payload["charges"] = charges
        return self._control(f"payment_methods/{payment_method_id}/decline", payload)

    def strict_mode(
        self, on: bool = True, *, rate_limit: bool | None = None, per_second: int | None = None
    ) -> dict[str, Any]:
        """Switch strict mode, the rate limit, and its requests per second (Stripe's test mode: 25)."""
        payload: dict[str, Any] = {"on": on}
        if rate_limit is not None:
            payload["rate_limit"] = rate_limit
        if per_second is not None:
            payload["per_second"] = per_second
        return self._control("strict", payload)

    def requests_seen(self) -> dict[str, Any]:
        """``GET /_sandbox/requests``: calls by endpoint and every strict-mode rejection."""
        response = self._http.get(f"{self.url}/_sandbox/requests", timeout=30)
        response.raise_for_status()
        return response.json()

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Every recorded event, oldest first."""
        params = {"type": type} if type else {}
        response = self._http.get(f"{self.url}/_sandbox/events", params=params, timeout=30)
        response.raise_for_status()
        return response.json()["data"]
