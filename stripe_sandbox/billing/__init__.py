"""Stripe Billing in the sandbox: subscriptions, invoices and what the clock does to them.

Layered bottom-up, each module importing only those above it in this list (no circles):
``common`` (settings, calendar, prices, cards), ``lifecycle`` (status changes), ``lines`` (invoice
items and lines), ``invoices``, ``collection`` (finalize and pay), ``proration``, ``subscriptions``,
``preview``, ``clock``. Nothing is re-exported here: callers import the module they mean.
"""
