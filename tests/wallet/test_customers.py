"""A Stripe customer follows each user: created, updated, deleted, and retried after outages."""

from __future__ import annotations

import threading

import pytest

from portal.auth import services as accounts
from portal.auth import tokens
from portal.customers.models import PendingCustomerDeletion
from portal.customers.users import retry_pending_customers
from portal.extensions import db
from portal.users.models import StripeSyncState, User
from tests.factories import DEFAULT_PASSWORD, make_user


def _customers_for(sandbox, user: User) -> list:
    return sandbox.client().v1.customers.search({"query": f"metadata['userRef']:'{user.stripe_ref}'"}).data


def test_registration_creates_the_customer(app, sandbox):
    user = make_user(name="Grace Hopper", email="grace@example.com")
    assert user.stripe_customer_id and user.stripe_sync == StripeSyncState.SYNCED
    customer = sandbox.client().v1.customers.retrieve(user.stripe_customer_id)
    assert customer.name == "Grace Hopper"
    assert customer.email == "grace@example.com"
    assert customer.metadata["userId"] == str(user.id)
    assert customer.metadata["source"] == "user_registration"
    assert customer.description == f"Customer for user ID: {user.id}"


def test_registration_survives_stripe_outage_and_retry_creates_one_customer(app, sandbox):
    with sandbox.outage():
        user = make_user()
    assert user.stripe_customer_id is None
    assert user.stripe_sync == StripeSyncState.PENDING

    summary = retry_pending_customers()
    assert summary.created_or_synced == 1
    again = retry_pending_customers()  # a second run changes nothing
    assert again.created_or_synced == 0
    db.session.refresh(user)
    assert [c.id for c in _customers_for(sandbox, user)] == [user.stripe_customer_id]


def test_two_concurrent_retries_create_exactly_one_customer(app, sandbox):
    with sandbox.outage():
        user = make_user()
    user_id, ref = user.id, user.stripe_ref
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run_retry() -> None:
        with app.app_context():
            try:
                barrier.wait()
                retry_pending_customers()
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run_retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    db.session.expire_all()
    stored = db.session.get(User, user_id).stripe_customer_id
    found = sandbox.client().v1.customers.search({"query": f"metadata['userRef']:'{ref}'"}).data
    assert [c.id for c in found] == [stored]


def test_the_customer_is_created_when_next_needed(app, sandbox):
    from portal.wallet.services import user_wallet

    with sandbox.outage():
        user = make_user()
    wallet = user_wallet(user)  # e.g. opening "Add card"
    assert wallet.customer_id == user.stripe_customer_id
    assert len(_customers_for(sandbox, user)) == 1


def test_profile_edit_syncs_name_and_email(app, sandbox):
    user = make_user()
    assert (
        accounts.update_profile(user, "New Name", "New@Example.com", current_password=DEFAULT_PASSWORD)
        is True
    )
    assert user.email != "new@example.com"  # until the new address confirms the change
    _user, in_sync = accounts.confirm_email_change(tokens.make_email_change_token(user, "new@example.com"))
    assert in_sync is True
    customer = sandbox.client().v1.customers.retrieve(user.stripe_customer_id)
    assert (customer.name, customer.email) == ("New Name", "new@example.com")


def test_profile_edit_during_outage_is_saved_and_synced_later(app, sandbox):
    user = make_user()
    with sandbox.outage():
        assert accounts.update_profile(user, "Offline Edit", user.email) is False
    assert user.name == "Offline Edit" and user.stripe_sync == StripeSyncState.PENDING
    retry_pending_customers()
    assert sandbox.client().v1.customers.retrieve(user.stripe_customer_id).name == "Offline Edit"


def test_account_deletion_deletes_the_customer(app, sandbox):
    user = make_user()
    customer_id = user.stripe_customer_id
    assert accounts.delete_account(user, "correct-horse-battery") is True
    assert db.session.get(User, user.id) is None
    assert sandbox.client().v1.customers.retrieve(customer_id).to_dict().get("deleted") is True


def test_account_deletion_during_outage_deletes_customer_later(app, sandbox):
    user = make_user()
    customer_id = user.stripe_customer_id
    with sandbox.outage():
        assert accounts.delete_account(user, "correct-horse-battery") is False
    assert db.session.get(PendingCustomerDeletion, customer_id) is not None
    summary = retry_pending_customers()
    assert summary.deleted == 1
    assert db.session.get(PendingCustomerDeletion, customer_id) is None
    assert sandbox.client().v1.customers.retrieve(customer_id).to_dict().get("deleted") is True


@pytest.mark.parametrize("secret", ["sk_test_sandbox", "4242424242424242", "correct-horse-battery"])
def test_stripe_log_lines_carry_no_secrets(app, sandbox, caplog, secret):
    caplog.set_level("DEBUG")
    user = make_user()
    accounts.update_profile(user, "Logged Name", user.email)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("portal.gateway")]
    assert any("op=customer.create" in line and f"userId={user.id}" in line for line in lines)
    assert all(secret not in line for line in lines)
