"""The Stripe webhook inbox: verify, store once, dispatch to one small handler per event type."""
