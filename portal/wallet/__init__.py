"""Saved cards for a Stripe customer (a user or a practice): the mirror, the card actions, the pages."""
