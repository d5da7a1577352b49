"""One clock for Stripe objects: whatever the portal fetches is stamped with Stripe's clock
(``portal.gateway.gateway.stripe_time``, the ``Date`` of Stripe's answer), the clock of its events.
The journey test (``test_sandbox_journey``) shows why; this keeps the portal's clock from coming back."""

from __future__ import annotations

import re
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[2] / "portal"
#: The features that mirror Stripe objects (the gateway keeps stripe_time's own fallback).
MIRRORING = ("practices", "wallet", "webhooks", "customers", "shop")


def test_no_mirror_is_stamped_with_the_portals_clock() -> None:
    offending = [
        f"{path.relative_to(PORTAL)}:{number}"
        for feature in MIRRORING
        for path in sorted((PORTAL / feature).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\btime\.time\(\)|\bunix_now\b", line)
    ]
    assert offending == []
