"""An owner offers the practice on the People tab in Chromium, the admin accepts it by email,
then the former owner deletes the account."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.smtp import body_text

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery"


@pytest.fixture
def shared_practice(live_portal_factory):
    """A live portal; Olive owns Harbour Dental (subscribed), Ada is its admin."""
    portal = live_portal_factory()
    with portal.app.test_request_context():
        from portal.auth import services as accounts
        from portal.extensions import db
        from portal.practices import members as practice_members
        from portal.practices.models import MemberRole

        owner = accounts.register_user("Olive Owner", "olive@example.com", PASSWORD)
        admin = accounts.register_user("Ada Admin", "ada@example.com", PASSWORD)
        practice = practice_members.create_practice(owner, "Harbour Dental")
        practice_members.add_member(practice, admin.email, MemberRole.ADMIN, owner)
        practice.stripe_subscription_id, practice.subscription_status = "sub_e2e", "active"
        db.session.commit()
        practice_id = practice.id
    return portal.url, practice_id


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_owner_hands_over_then_leaves(page, shared_practice, smtp_server):
    base, practice_id = shared_practice
    log_in(page, base, "olive@example.com")

    # Still billed: the account page and the delete page say what to do first, and offer no delete
    # button (the server refuses anyway: tests/identity/test_owners.py).
    page.goto(f"{base}/account")
    expect(page.locator(".danger-zone")).to_contain_text("You own Harbour Dental, still billed")
    expect(page.get_by_role("link", name="Delete my account")).to_have_count(0)
    page.goto(f"{base}/account/delete")
    expect(page.locator("main")).to_contain_text("Harbour Dental · People")
    expect(page.get_by_role("button", name="Delete my account")).to_have_count(0)

    page.goto(f"{base}/practices/{practice_id}/members")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Make owner").click()
    expect(page.locator(".flash-success")).to_contain_text("You stay the owner until they accept it")
    expect(page.locator("#practice-invitations")).to_contain_text("Ownership offer")

    # Ada accepts the offer from her email; only then does the practice move.
    offer = body_text(smtp_server.wait_for("ada@example.com", "offers you ownership"))
    link = re.search(r"https?://[^/\s]+(/practices/invitations/\S+)", offer).group(1)
    page.get_by_role("button", name="Log out").click()
    log_in(page, base, "ada@example.com")
    page.goto(f"{base}{link}")
    page.get_by_role("button", name="Accept").click()
    expect(page.locator(".flash-success")).to_contain_text("You now own Harbour Dental")
    page.get_by_role("button", name="Log out").click()
    log_in(page, base, "olive@example.com")

    page.goto(f"{base}/account/delete")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".flash-success")).to_contain_text("Your account was deleted.")
    assert page.errors == []
