"""Figure: People-tab invitations that tell an email with an account from one without (0), people
added or made owner without accepting (0), and invitations allowed per hour from one inviter
(exactly the documented INVITE_INVITER_THROTTLE).

Pairs of invitations (an address with an account, then one without) must answer with the same
status, page and message once the address is blanked. Neither, nor an ownership offer, changes
who is in the practice or who owns it. Then three times the documented limit arrives from one
inviter: exactly the limit gets through.
"""

from __future__ import annotations

from config import Config
from portal.practices import members as practice_members
from portal.practices.models import MemberRole
from tests.factories import make_user
from tests.practices.conftest import add_member, login, make_practice
from tests.practices.test_invitations import invite, post_from_people, switch_to
from tests.practices.test_people import _answer_to

PAIRS = 10


def test_invitations_tell_nothing_move_nothing_and_hold_their_throttle(app, auth, mailbox, figure):
    owner = make_user(name="Olive Owner")
    practice = make_practice(owner)
    colleague = add_member(practice, make_user(name="Cole League"), MemberRole.ADMIN)
    client = login(auth, owner)
    app.config["INVITE_INVITER_THROTTLE"] = app.config["INVITE_PRACTICE_THROTTLE"] = "1000 per hour"
    known = [make_user(email=f"known{n}@example.com") for n in range(PAIRS)]
    told_apart = sum(
        _answer_to(client, practice, person.email) != _answer_to(client, practice, f"unknown{n}@example.com")
        for n, person in enumerate(known)
    )
    post_from_people(client, practice, f"/practices/{practice.id}/members/{colleague.id}/make-owner")
    members = {(m.user_id, m.role) for m in practice_members.members_of(practice)}
    moved = len(members ^ {(owner.id, MemberRole.OWNER), (colleague.user_id, MemberRole.ADMIN)})
    assert told_apart == 0 and moved == 0

    app.config["INVITE_INVITER_THROTTLE"] = Config.INVITE_INVITER_THROTTLE
    app.config["INVITE_PRACTICE_THROTTLE"] = Config.INVITE_PRACTICE_THROTTLE
    documented = int(Config.INVITE_INVITER_THROTTLE.split()[0])
    inviter = make_user(name="Ivy Inviter")
    other_practice = make_practice(inviter)
    client = switch_to(auth, inviter)
    statuses = [
        invite(client, other_practice, f"burst{n}@example.com").status_code for n in range(3 * documented)
    ]
    assert statuses.count(303) == documented and statuses.count(429) == 2 * documented
    figure(
        "practice_invitations",
        told_apart,
        f"of {PAIRS} invitation pairs (email with an account, without) answered differently; {moved} people "
        f"added or made owner without accepting; {statuses.count(303)} of {3 * documented} invitations from "
        f"one inviter allowed per hour (documented {documented})",
    )
