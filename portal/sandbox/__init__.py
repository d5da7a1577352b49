"""A Stripe-compatible server (API, Stripe.js, hosted pages, webhooks) for running without Stripe."""

from portal.sandbox.app import create_sandbox_app

__all__ = ["create_sandbox_app"]
