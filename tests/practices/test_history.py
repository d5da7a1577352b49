"""The practice's billing history: who changed what, newest first, for the people who manage billing."""

from __future__ import annotations

from portal.extensions import db
from portal.practices import audit
from portal.practices.models import MemberRole
from tests.practices.conftest import add_member, login

HX = {"HX-Request": "true"}


def record(practice, count: int) -> None:
    for n in range(count):
        audit.record(practice, "card_added", f"visa {n:04d}")
    db.session.commit()


def test_history_lists_changes_newest_first_with_who_made_them(owner_client, practice, owner):
    audit.record(practice, "cancel_requested", "Too expensive", actor_id=owner.id)
    audit.record(practice, "status_changed", "DONE → PAST_DUE")
    db.session.commit()
    page = owner_client.get(f"/practices/{practice.id}/history").get_data(as_text=True)
    assert page.index("Billing status: Active → Past due") < page.index("Cancellation asked for")
    assert "Olive Owner" in page and "Stripe" in page and "Too expensive" in page


def test_history_pages_through_htmx_with_the_table_alone(owner_client, practice):
    record(practice, 30)
    first = owner_client.get(f"/practices/{practice.id}/history").get_data(as_text=True)
    assert "Page 1" in first and ">Older</a>" in first
    assert "Visa ending 0029" in first and "Visa ending 0004" not in first
    second = owner_client.get(f"/practices/{practice.id}/history?page=2", headers=HX)
    fragment = second.get_data(as_text=True)
    assert second.status_code == 200 and "<html" not in fragment
    assert "Visa ending 0004" in fragment and "Visa ending 0029" not in fragment and "Page 2" in fragment
    assert ">Newer</a>" in fragment and ">Older</a>" not in fragment
    # Past the end (a stale link): the last page, not an empty one.
    beyond = owner_client.get(f"/practices/{practice.id}/history?page=9", headers=HX).get_data(as_text=True)
    assert "Page 2" in beyond and "Visa ending 0004" in beyond


def test_members_who_do_not_manage_billing_get_403(client, auth, practice, user_factory):
    member = user_factory()
    add_member(practice, member, MemberRole.MEMBER)
    login(auth, member)
    assert client.get(f"/practices/{practice.id}/history").status_code == 403
    billing = client.get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert "History" not in billing and "People" in billing


def test_a_full_last_page_offers_nothing_older(practice):
    from portal.practices import history as practice_history

    record(practice, 25 - len(practice_history.audit_page(practice, per_page=1000).items))
    exactly_one_page = practice_history.audit_page(practice)
    assert len(exactly_one_page.items) == 25 and not exactly_one_page.has_older
    record(practice, 1)
    assert (
        practice_history.audit_page(practice).has_older
        and len(practice_history.audit_page(practice, 2).items) == 1
    )
