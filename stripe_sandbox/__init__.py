"""A Stripe-compatible server (API, Stripe.js, hosted pages, webhooks) for running without Stripe.

It stands in for api.stripe.com and js.stripe.com for the subset the portal uses, shaped like API
version 2026-10-28.endive, so the official SDK works unchanged with
``stripe.StripeClient("sk_test_x", base_addresses={"api": sandbox_url})``. It imports nothing from the
portal, nor the portal from it (import contracts in pyproject.toml): the portal talks to it only as it
talks to Stripe.

Entry points
    ``create_sandbox_app(database_path, webhook_url, webhook_secret, *, delivery_mode="ordered")``
    ``python -m stripe_sandbox run [--port --database --webhook-url --webhook-secret --delivery-mode]``
    ``stripe_sandbox.testing.SandboxServer`` (in-process server for tests and benchmarks)

Layout
    ``app`` builds the Flask app; ``api/`` serves ``/v1`` (``pipeline`` over two route tables);
    ``pages`` and ``control`` are the browser pages and the ``/_sandbox`` controls; ``checkout``,
    ``billing/`` (subscriptions, invoices, the clock), ``payments/`` (customers, cards, intents),
    ``catalog`` and ``refunds`` act on the state in ``core`` (``store``: SQLite; ``delivery``: webhooks);
    ``shapes/`` holds a blank object per Stripe type; ``defaults`` its keys and address.

Pages (on the sandbox's origin)
    ``/``                          dashboard: clock, "Advance 1 day / 1 month", recent events, delivery mode
    ``/v3/``                       the Stripe.js stand-in; ``/v3/elements/card`` is the card iframe
    ``/challenge/<intent id>``     3-D Secure test page (Complete / Fail)
    ``/checkout/<session id>``     hosted Checkout (``session.url``)
    ``/invoices/<id>``, ``/pdf``   hosted invoice page and PDF (``hosted_invoice_url``, ``invoice_pdf``)
    ``/billing_portal/<id>``       billing portal stand-in (``session.url``)

Controls (JSON, not Stripe's): ``/_sandbox/health``, ``state``, ``clock``, ``clock/advance``,
``delivery``, ``events``, ``events/flush``, ``latency``, ``outage``, ``fail_next``, ``settings``,
``authenticate``, ``reset``, ``subscriptions/<id>/pause``, and ``payment_methods/<id>/decline``: a
test hook Stripe lacks (its decline test cards are refused when saved), making a saved card's next
charges fail as Stripe's decline for a given code would (``{"decline_code": ..., "charges": N}``;
no ``charges``: until cleared; ``{"decline_code": null}`` clears it; an unknown code is a 400).
"""

from stripe_sandbox.app import create_sandbox_app

__all__ = ["create_sandbox_app"]
