"""Practice pages, one module per tab: ``billing`` (the list, the billing page and its actions, with
``cards``, the Billing tab's saved cards, ``details``, its billing details, and ``bank_check``, the
page where the bank confirms an invoice's payment), ``people`` and
``history``; ``common`` holds the blueprint and what they share. Importing this package attaches
their routes to ``bp``, which ``create_app`` registers.
"""

from portal.practices.views import bank_check, billing, cards, details, history, people  # noqa: F401  (their routes on bp)
from portal.practices.views.common import bp

__all__ = ["bp"]
