"""Figure 1: bad webhook deliveries are rejected (400) and write nothing, in any table."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings

from portal.extensions import db
from tests.reliability.conftest import row_counts
from tests.webhooks.test_verify import bad_deliveries

DELIVERIES = 500


def test_bad_deliveries_are_rejected_with_nothing_written(client, figure):
    before = row_counts()
    kinds: Counter[str] = Counter()
    rejected = 0

    @settings(
        max_examples=DELIVERIES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(delivery=bad_deliveries())
    def deliver(delivery) -> None:
        nonlocal rejected
        kind, body, headers = delivery
        response = client.post(
            "/webhooks/stripe", data=body, headers=headers, content_type="application/json"
        )
        assert response.status_code == 400, (kind, body, headers)
        kinds[kind] += 1
        rejected += 1
        db.session.rollback()

    deliver()
    total = sum(kinds.values())
    written = sum(row_counts().values()) - sum(before.values())
    assert written == 0 and row_counts() == before
    assert rejected == total and total >= DELIVERIES * 0.9, kinds  # hypothesis may dedupe a few
    assert len(kinds) == 9, kinds  # every kind of bad delivery was tried
    figure("bad_webhooks", rejected, f"of {total} bad deliveries rejected with 400, {written} rows written")
