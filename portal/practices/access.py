"""The signed-in person's practices and roles, read once per request.

A practice page needs the person's membership to decide what they may see, and
the banners on the same page need all of their practices: one query serves both.
"""

from __future__ import annotations

from flask import g

from portal.auth.models import User
from portal.practices import services
from portal.practices.models import Practice, PracticeMember

_KEY = "practice_memberships"


def memberships(user: User) -> list[tuple[Practice, PracticeMember]]:
    """``services.practices_for(user)``, remembered until the end of the request."""
    remembered = g.get(_KEY)
    if remembered is None or remembered[0] != user.id:
        remembered = (user.id, services.practices_for(user))
        setattr(g, _KEY, remembered)
    return remembered[1]


def membership_in(user: User, practice_id: int) -> tuple[Practice, PracticeMember] | None:
    return next(((p, m) for p, m in memberships(user) if p.id == practice_id), None)


def forget_memberships() -> None:
    """Run before every request: the answer is only good for the request that read it."""
    g.pop(_KEY, None)
