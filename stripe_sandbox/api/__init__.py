"""Stripe's HTTP conventions for ``/v1``: routes, keys, params, idempotency, expansion, lists, errors.

``routing`` holds the route tables' type; ``payment_routes`` and ``billing_routes`` fill one table each;
``pipeline`` serves them (it imports the tables; the tables never import it, so no circle).
"""
