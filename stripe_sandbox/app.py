"""The sandbox WSGI app: a stand-in for api.stripe.com and js.stripe.com.

It imports nothing from the portal: it plays Stripe, and the portal must talk to it only the way it
talks to Stripe (HTTP, the official SDK, Stripe.js, signed webhooks).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.http import http_date
from werkzeug.serving import WSGIRequestHandler

from stripe_sandbox import control, pages
from stripe_sandbox.api.pipeline import register_api
from stripe_sandbox.billing import collection
from stripe_sandbox.core import Sandbox
from stripe_sandbox.delivery import MODES, valid_mode


def create_sandbox_app(
    database_path: str,
    webhook_url: str | None,
    webhook_secret: str,
    *,
    delivery_mode: str = "ordered",
    delivery_concurrency: int = 1,
    strict: bool = True,
    rate_limit: bool = True,
) -> Flask:
    """Build the app; state lives in ``database_path`` and survives restarts.

    ``strict`` (parameter validation) and ``rate_limit`` (Stripe's test-mode limit) are on unless
    turned off, as at Stripe; ``POST /_sandbox/strict`` switches them while it runs."""
    if not valid_mode(delivery_mode):
        raise ValueError(f"delivery_mode must be one of {MODES}")
    app = Flask(__name__, template_folder="templates", static_folder=None)
    sandbox = Sandbox(
        database_path,
        webhook_url,
        webhook_secret,
        delivery_mode,
        delivery_concurrency=delivery_concurrency,
        on_invoice_payment=collection.on_invoice_payment,
        strict=strict,
        rate_limit=rate_limit,
    )
    app.extensions["stripe_sandbox"] = sandbox
    register_api(app, sandbox)
    app.register_blueprint(control.bp)
    app.register_blueprint(pages.bp)
    return app


class SandboxRequestHandler(WSGIRequestHandler):
    """Dates every response by the sandbox clock.

    Like Stripe's, the ``Date`` header and the events' ``created`` then come from one clock,
    which here runs ahead of the wall clock once it is advanced; the portal orders its own
    mirror writes by it.
    """

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is None:
            timestamp = self.server.app.extensions["stripe_sandbox"].now()
        return http_date(timestamp)
