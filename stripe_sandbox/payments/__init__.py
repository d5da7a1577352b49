"""Payments in the sandbox: customers, payment methods, setup and payment intents, charges, 3-D Secure.

Layered bottom-up (no circles): ``common``, ``customers`` (with their payment methods), ``charges``,
``setup_intents``, ``payment_intents``, ``authentication``. Payments sit below billing and never import
it: a PaymentIntent that pays an invoice tells billing through ``Sandbox.on_invoice_payment``.
Nothing is re-exported here: callers import the module they mean.
"""
