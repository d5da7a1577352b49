"""``flask seed-demo``: the plans in the configured Stripe and a demo practice; safe to run again."""

from __future__ import annotations

import logging

from portal.gateway.errors import BillingError
from portal.practices import members
from portal.practices import plans as practice_plans
from portal.practices.models import MemberRole
from portal.users.lookup import find_user_by_email

log = logging.getLogger(__name__)

DEMO_OWNER = "owner@example.com"
DEMO_ADMIN = "admin@example.com"
DEMO_MEMBER = "user@example.com"
DEMO_PRACTICE = "Riverside Family Clinic"


def seed_practices() -> None:
    try:
        practice_plans.bootstrap_plans()
    except BillingError as error:
        log.warning("plans not bootstrapped (Stripe unavailable): %s", error.message)
    owner = find_user_by_email(DEMO_OWNER)
    if owner is None or any(p.name == DEMO_PRACTICE for p, _ in members.practices_for(owner)):
        return
    practice = members.create_practice(owner, DEMO_PRACTICE)
    for email, role in ((DEMO_ADMIN, MemberRole.ADMIN), (DEMO_MEMBER, MemberRole.MEMBER)):
        if find_user_by_email(email) is not None:
            members.add_member(practice, email, role, owner)
