"""Blank objects, one per Stripe type, copied from Stripe's fixtures (API version 2026-10-28.endive).

Builders deep-copy one of these and overwrite the fields the sandbox manages, so every field the SDK
expects is present with the right kind of value. Example junk in the fixtures (discount objects,
random amounts) is reset to what a fresh test-mode object carries. One module per group of Stripe
objects (``payments``, ``subscriptions``, ``invoices``, ``catalog``, ``checkout``, ``events``).
"""

from __future__ import annotations

import copy
from typing import Any


def blank(shape: dict[str, Any]) -> dict[str, Any]:
    """A private copy of ``shape``: builders mutate nested dicts freely."""
    return copy.deepcopy(shape)
