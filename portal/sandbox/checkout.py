"""Checkout sessions and billing portal sessions."""

from __future__ import annotations
