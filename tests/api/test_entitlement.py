"""``GET /api/practices/{id}/entitlement``: what the clinic's other software asks, per billing status,
for members only (another practice's id answers exactly like an unknown one)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from portal.practices.models import MemberRole, Plan
from portal.practices.status import BillingStatus
from tests.factories import ApiTokenFactory, PracticeFactory, PracticeMemberFactory, UserFactory

PERIOD_END = dt.datetime(2027, 3, 28, 9, 30)
_tokens = itertools.count()


def token_for(user) -> dict:
    value = f"pbp_entitlement_{next(_tokens)}"
    ApiTokenFactory(user=user, token=value)
    return {"Authorization": f"Bearer {value}"}


def practice_in(status: BillingStatus, owner, **fields):
    return PracticeFactory(
        owner=owner,
        billing_status=status,
        plan=Plan.SEMIANNUAL,
        current_period_end=PERIOD_END,
        deactivated=status == BillingStatus.INACTIVE,
        **fields,
    )


@pytest.mark.parametrize(
    ("status", "access", "until"),
    [
        (BillingStatus.DONE, True, "2027-03-28T09:30:00Z"),
        (BillingStatus.PAST_DUE, True, None),  # kept while Stripe retries: no date to promise
        (BillingStatus.REQUIRED, False, None),
        (BillingStatus.CANCELLED, False, None),
        (BillingStatus.INACTIVE, False, None),
    ],
)
def test_each_status_answers_access_and_until(client, status, access, until):
    owner = UserFactory()
    practice = practice_in(status, owner)
    answer = client.get(f"/api/practices/{practice.id}/entitlement", headers=token_for(owner))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["success"] is True and body["timestamp"].endswith("Z")
    assert body["data"] == {
        "practice_id": practice.id,
        "status": status.value,
        "access": access,
        "until": until,
        "plan": "semiannual",
    }


def test_a_scheduled_cancellation_keeps_access_until_it_takes_effect(client):
    owner = UserFactory()
    ends = dt.datetime(2027, 2, 1)
    practice = practice_in(BillingStatus.DONE, owner, cancel_at_period_end=True, cancel_at=ends)
    answer = client.get(f"/api/practices/{practice.id}/entitlement", headers=token_for(owner))
    data = answer.get_json()["data"]
    assert (data["access"], data["until"]) == (True, "2027-02-01T00:00:00Z")


def test_a_plain_member_may_ask_too(client):
    practice = practice_in(BillingStatus.DONE, UserFactory())
    member = UserFactory()
    PracticeMemberFactory(practice=practice, user=member, role=MemberRole.MEMBER)
    answer = client.get(f"/api/practices/{practice.id}/entitlement", headers=token_for(member))
    assert answer.status_code == 200 and answer.get_json()["data"]["access"] is True


def test_another_practices_id_is_404_exactly_like_an_unknown_id(client):
    mine = practice_in(BillingStatus.DONE, owner := UserFactory())
    theirs = practice_in(BillingStatus.DONE, UserFactory())
    headers = token_for(owner)
    other = client.get(f"/api/practices/{theirs.id}/entitlement", headers=headers)
    unknown = client.get(f"/api/practices/{theirs.id + 1000}/entitlement", headers=headers)
    assert other.status_code == unknown.status_code == 404
    assert (
        other.get_json()["error"]
        == unknown.get_json()["error"]
        == {
            "code": "not_found",
            "message": "No practice with that id.",
        }
    )
    assert client.get(f"/api/practices/{mine.id}/entitlement", headers=headers).status_code == 200


def test_no_token_or_a_bad_one_is_401(client):
    practice = practice_in(BillingStatus.DONE, UserFactory())
    assert client.get(f"/api/practices/{practice.id}/entitlement").status_code == 401
    bad = client.get(f"/api/practices/{practice.id}/entitlement", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "unauthorized"


def test_a_cookie_session_is_not_enough(auth):
    owner = UserFactory()
    practice = practice_in(BillingStatus.DONE, owner)
    assert auth.login(owner.email).status_code == 302
    assert auth.client.get(f"/api/practices/{practice.id}/entitlement").status_code == 401


def test_the_openapi_document_describes_it(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    operation = paths["/api/practices/{id}/entitlement"]["get"]
    assert set(operation["responses"]) == {"200", "401", "404"}


def test_a_trial_and_paused_collection_keep_access(client):
    """On trial, and with collection paused by the platform, the practice is DONE with access."""
    owner = UserFactory()
    trial = practice_in(
        BillingStatus.DONE,
        owner,
        subscription_status="trialing",
        trial_end=PERIOD_END,
        stripe_subscription_id="sub_t",
    )
    paused = practice_in(
        BillingStatus.DONE,
        owner,
        subscription_status="active",
        pause_behavior="void",
        stripe_subscription_id="sub_p",
    )
    headers = token_for(owner)
    for practice in (trial, paused):
        data = client.get(f"/api/practices/{practice.id}/entitlement", headers=headers).get_json()["data"]
        assert (data["status"], data["access"], data["until"]) == ("DONE", True, "2027-03-28T09:30:00Z")
