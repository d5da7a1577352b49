"""Real-browser fixtures: the portal served on a free port, and Debian's Chromium via Playwright.

``live_portal`` is the base URL of a portal started for one test; override the
``portal_overrides`` fixture (or call ``live_portal_factory(**config)``) to change
its configuration. Chromium is the system one (/usr/bin/chromium), never a
downloaded build, launched headless with flags that work as root in CI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer

from portal import create_app
from portal.extensions import db
from tests.serving import portal_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class LivePortal:
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture
def portal_overrides() -> dict:
    """Config for the live portal; override in a test module (or parametrize) to change it."""
    return {}


@pytest.fixture
def live_portal_factory(tmp_path, smtp_server, sandbox) -> Iterator[Callable[..., LivePortal]]:
    """Start portals (own SQLite file, real SMTP, CSRF on) in background threads; all stop at teardown."""
    started: list[LivePortal] = []

    def start(**overrides: object) -> LivePortal:
        config = {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'live-{len(started)}.sqlite'}",
            "STRIPE_API_BASE": sandbox.url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_server.port,
            "WTF_CSRF_ENABLED": True,
            **overrides,
        }
        app = create_app("testing", **config)
        with app.app_context():
            db.create_all()
        server = portal_server(app)
        thread = threading.Thread(target=server.serve_forever, name="live-portal", daemon=True)
        thread.start()
        portal = LivePortal(app, server, thread)
        started.append(portal)
        return portal

    yield start
    for portal in started:
        portal.stop()


@pytest.fixture
def live_portal(live_portal_factory, portal_overrides) -> str:
    """The base URL of a running portal, e.g. ``http://127.0.0.1:54321``."""
    return live_portal_factory(**portal_overrides).url


def new_page(browser, **context_options):
    """A page in a fresh browser context (no cookies); ``context_options`` as Playwright's
    ``new_context`` takes them (e.g. ``locale="vi-VN"``). Close it with ``page.context.close()``.

    ``page.errors`` collects script errors, CSP violations and failed sub-resources
    (a page or an htmx fragment answering 422 to bad input is expected and not collected).
    """
    context = browser.new_context(**{"viewport": {"width": 1200, "height": 800}, **context_options})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []

    def on_console(message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            page.errors.append(message.text)

    def on_response(response) -> None:
        request = response.request
        expected = (
            request.resource_type == "document"
            or response.status == 422
            or request.url.endswith("/favicon.ico")
        )
        if response.status >= 400 and not expected:
            page.errors.append(f"{response.status} {request.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) per test, as ``new_page`` makes it."""
    page = new_page(browser)
    yield page
    page.context.close()


def save_screenshot(page, name: str) -> Path:
    """Save ``page`` as it stands (the whole page) as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot(page) -> Callable[[str], Path]:
    """Save the current page as docs/screenshots/<name>.png."""
    return lambda name: save_screenshot(page, name)


@dataclass
class WebhookPortal:
    """A live portal and a sandbox of its own that delivers its webhooks to that portal."""

    portal: LivePortal
    sandbox: object

    @property
    def url(self) -> str:
        return self.portal.url


@pytest.fixture
def webhook_portal(live_portal_factory, portal_overrides) -> Iterator[WebhookPortal]:
    """Portal and sandbox wired both ways: the portal calls the sandbox, the sandbox's events reach it.
    ``portal_overrides`` (e.g. a PostgreSQL database) apply to the portal.

    The sandbox's port is picked first so the portal can be built pointing at it; the
    sandbox then starts on that port with the portal's webhook URL.
    """
    from stripe_sandbox.testing import SandboxServer
    from tests.smtp import free_port
    from tests.strict_calls import check_no_rejections

    port = free_port()
    portal = live_portal_factory(**portal_overrides, STRIPE_API_BASE=f"http://127.0.0.1:{port}")
    sandbox = SandboxServer(webhook_url=f"{portal.url}/webhooks/stripe", port=port).start()
    yield WebhookPortal(portal, sandbox)
    seen = sandbox.requests_seen()
    sandbox.stop()
    check_no_rejections("browser journey (portal and Stripe.js)", seen)
