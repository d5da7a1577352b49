"""Stripe customers: each user and each practice is one. Creating, updating and deleting them,
and retrying what an outage left pending, the same way for every kind of owner."""
