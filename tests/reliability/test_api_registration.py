"""Figure: JSON API registrations that tell a taken email from a new one (0), and registrations
allowed per hour from one address (exactly the documented REGISTER_THROTTLE).

Pairs of ``POST /users`` (a new email, then a taken one, each pair from its own address) must
answer with the same status and body once the email and timestamp are blanked, and the owner
of each taken address is emailed. Then three times the documented limit of new registrations
arrive from one address: exactly the limit gets through.
"""

from __future__ import annotations

import sqlalchemy as sa

from config import Config
from portal.extensions import db
from portal.users.models import User
from tests.api.test_registration_enumeration import _answer, _register
from tests.factories import make_user

PAIRS = 10


def test_api_registration_tells_nothing_and_holds_its_throttle(app, client, mailbox, figure):
    owners = [make_user(email=f"owner{n}@example.com") for n in range(PAIRS)]
    told_apart = 0
    for n, owner in enumerate(owners):
        address = f"10.1.0.{n + 1}"
        fresh = _answer(_register(client, f"fresh{n}@example.com", address), f"fresh{n}@example.com")
        taken = _answer(_register(client, owner.email, address), owner.email)
        told_apart += fresh != taken
    assert told_apart == 0
    for owner in owners:
        assert mailbox.wait_for(owner.email, "Someone tried to register")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2 * PAIRS

    documented = int(Config.REGISTER_THROTTLE.split()[0])
    statuses = [
        _register(client, f"burst{n}@example.com", "10.2.0.1").status_code for n in range(3 * documented)
    ]
    assert statuses.count(202) == documented and statuses.count(429) == 2 * documented
    figure(
        "api_registration_enumeration",
        told_apart,
        f"of {PAIRS} POST /users pairs (new email, taken email) answered differently; "
        f"{statuses.count(202)} of {3 * documented} registrations from one address allowed per hour "
        f"(documented {documented})",
    )
