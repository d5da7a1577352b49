"""A Stripe-compatible server (API, Stripe.js, hosted pages, webhooks) for running without Stripe.

It stands in for api.stripe.com and js.stripe.com for the subset the portal uses, shaped like API
version 2026-10-28.endive, so the official SDK works unchanged with
``stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox_url})``. It never imports the rest of
``portal``.

Entry points
    ``create_sandbox_app(database_path, webhook_url, webhook_secret, *, delivery_mode="ordered")``
    ``stripe_sandbox.cli.sandbox_cli`` (``flask sandbox run``)
    ``stripe_sandbox.testing.SandboxServer`` (in-process server for tests and benchmarks)

Pages (on the sandbox's origin)
    ``/``                          dashboard: clock, "Advance 1 day / 1 month", recent events, delivery mode
    ``/v3/``                       the Stripe.js stand-in; ``/v3/elements/card`` is the card iframe
    ``/challenge/<intent id>``     3-D Secure test page (Complete / Fail)
    ``/checkout/<session id>``     hosted Checkout (``session.url``)
    ``/invoices/<id>``, ``/pdf``   hosted invoice page and PDF (``hosted_invoice_url``, ``invoice_pdf``)
    ``/billing_portal/<id>``       billing portal stand-in (``session.url``)

Controls (JSON, not Stripe's): ``/_sandbox/health``, ``state``, ``clock``, ``clock/advance``,
``delivery``, ``events``, ``events/flush``, ``latency``, ``outage``, ``fail_next``, ``settings``,
``authenticate``, ``reset``, ``subscriptions/<id>/pause``.
"""

from stripe_sandbox.app import create_sandbox_app

__all__ = ["create_sandbox_app"]
