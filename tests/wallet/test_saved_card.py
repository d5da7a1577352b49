"""A saved card's expiry badges: expired after its month, "expires soon" within the next two."""

from __future__ import annotations

from portal.database import utcnow
from portal.wallet.models import SavedCard


def card_expiring(months_from_now: int) -> SavedCard:
    today = utcnow().date()
    month_index = today.year * 12 + today.month - 1 + months_from_now
    return SavedCard("pm_1", "cus_1", "visa", "4242", month_index % 12 + 1, month_index // 12, False)


def test_a_card_is_valid_until_the_end_of_its_month():
    assert card_expiring(-1).expired and not card_expiring(-1).expiring_soon
    assert not card_expiring(0).expired


def test_a_card_expiring_this_month_or_next_is_flagged_soon():
    assert card_expiring(0).expiring_soon and card_expiring(1).expiring_soon
    assert not card_expiring(3).expiring_soon and not card_expiring(3).expired
