"""Practices (clinics): members, their own Stripe customer, plans and billing status."""
