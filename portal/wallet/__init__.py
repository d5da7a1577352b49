"""Saved cards for a Stripe customer (a user or a practice), and customer lifecycle."""
