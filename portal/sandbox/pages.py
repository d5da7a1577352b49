"""Pages a browser sees: dashboard, 3-D Secure challenge, checkout, invoices, portal, Stripe.js."""

from __future__ import annotations

from flask import Blueprint

from portal.sandbox.core import Sandbox


def make_pages_blueprint(sb: Sandbox) -> Blueprint:
    bp = Blueprint("sandbox_pages", __name__)
    return bp
