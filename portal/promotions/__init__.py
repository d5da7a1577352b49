"""Promotion codes and the retention coupon: what the platform offers, mirrored from Stripe."""
