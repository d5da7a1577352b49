"""Every row of the billing status table (docs/billing-status.md)."""

from __future__ import annotations

import pytest

from portal.practices.status import BillingFacts, BillingStatus, derive_billing_status

S = BillingStatus

#: (row, onboarding paid, subscription status, deactivated, expected) — the table, row by row.
TABLE = [
    (1, True, "active", True, S.INACTIVE),
    (1, False, None, True, S.INACTIVE),
    (2, True, "canceled", False, S.CANCELLED),
    (2, False, "canceled", False, S.CANCELLED),
    (2, True, "unpaid", False, S.CANCELLED),
    (3, True, "paused", False, S.INACTIVE),
    (3, False, "incomplete_expired", False, S.INACTIVE),
    (4, True, "past_due", False, S.PAST_DUE),
    (5, True, "active", False, S.DONE),
    (5, True, "trialing", False, S.DONE),
    (6, False, "active", False, S.REQUIRED),
    (7, True, "incomplete", False, S.REQUIRED),
    (7, False, "incomplete", False, S.REQUIRED),
    (8, False, None, False, S.REQUIRED),
    (8, True, None, False, S.REQUIRED),
    (9, True, "some_future_status", False, S.REQUIRED),
]


@pytest.mark.parametrize(("row", "onboarding_paid", "status", "deactivated", "expected"), TABLE)
def test_status_table(row, onboarding_paid, status, deactivated, expected):
    facts = BillingFacts(onboarding_paid=onboarding_paid, subscription_status=status, deactivated=deactivated)
    assert derive_billing_status(facts) is expected


def test_every_status_is_reachable():
    assert {row[-1] for row in TABLE} == set(BillingStatus)


def test_doc_lists_every_row():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "billing-status.md").read_text()
    for row in {r[0] for r in TABLE}:
        assert f"| {row} |" in doc
