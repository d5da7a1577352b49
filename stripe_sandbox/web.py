"""What the module-level blueprints (pages, controls) share: the sandbox of the app serving them."""

from __future__ import annotations

from flask import current_app

from stripe_sandbox.core import Sandbox


def current_sandbox() -> Sandbox:
    """The sandbox of the app handling this request (``create_sandbox_app`` puts it there)."""
    return current_app.extensions["stripe_sandbox"]
