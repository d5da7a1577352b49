"""The practice pages in Vietnamese (issue 18): the billing page of a subscribed practice, the plan
preview, a banner (with the decline reason kept in English on the practice), a refusal and the
History tab read in the browser's language; the same pages in English are unchanged."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.practices import audit, members
from portal.practices.models import MemberRole, Plan
from portal.practices.notifications import DECLINE_REASONS
from portal.practices.status import BillingStatus
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login, make_practice
from tests.practices.sandbox_helpers import Inbox, save_card, subscribe_directly

VI = {"Accept-Language": "vi"}
EN = {"Accept-Language": "en"}
HX = {"HX-Request": "true"}


@pytest.fixture
def owner(user_factory):
    return user_factory(name="Lan Chủ")


@pytest.fixture
def plans(runner):
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0


@pytest.fixture
def monthly(owner, plans, sandbox):
    """A practice on the Monthly plan with its onboarding fee paid: DONE."""
    practice = members.create_practice(owner, "Phòng khám An Bình")
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice, Plan.MONTHLY)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.DONE
    return practice


def page(client, url: str, headers: dict) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_billing_page_of_a_subscribed_practice_in_vietnamese_and_english(auth, owner, monthly):
    client = login(auth, owner)
    url = f"/practices/{monthly.id}/billing"
    vi = page(client, url, VI)
    for words in (
        "Gói đăng ký",  # the section
        "Gói tháng",  # the plan's name
        ">Đang hoạt động<",  # the billing status badge
        "Gia hạn tiếp theo",
        "Phí khởi tạo",
        "Đã thanh toán ngày",
        "Đổi sang Gói 6 tháng",
        "Huỷ gói đăng ký",
        "Hoá đơn",
        "Thông tin xuất hoá đơn",
        ">Việt Nam<",  # the billing details' countries, named by Babel
        "Mã số thuế Việt Nam (MST)",
    ):
        assert words in vi, words
    for english in (
        "Next renewal",
        "Onboarding fee",
        "Switch to Every 6 months",
        "Cancel subscription",
        "Monthly",
    ):
        assert english not in vi, english

    en = page(client, url, EN)
    for words in (
        "Subscription",
        "Monthly",
        ">Active<",
        "Next renewal",
        "Onboarding fee",
        "Paid ",
        "Cancel subscription",
    ):
        assert words in en, words
    assert "Gói tháng" not in en


def test_plan_preview_in_vietnamese_and_english(auth, owner, monthly):
    client = login(auth, owner)
    url = f"/practices/{monthly.id}/billing"
    for headers, expected, absent in (
        (
            VI,
            ("Đổi sang Gói 6 tháng", "Bạn sẽ trả", "mỗi 6 tháng", "Xác nhận đổi gói", "Giữ Gói tháng"),
            "You will be charged",
        ),
        (
            EN,
            (
                "Switch to Every 6 months",
                "You will be charged",
                "every 6 months",
                "Confirm switch",
                "Keep Monthly",
            ),
            "Bạn sẽ trả",
        ),
    ):
        csrf = extract_csrf(page(client, url, headers))
        response = client.post(
            f"/practices/{monthly.id}/billing/plan/preview",
            data={"plan": "semiannual", "csrf_token": csrf},
            headers={**HX, **headers},
        )
        preview = response.get_data(as_text=True)
        assert response.status_code == 200
        for words in expected:
            assert words in preview, words
        assert absent not in preview


def test_payment_failed_banner_says_the_stored_decline_reason_in_the_readers_language(auth, owner):
    practice = make_practice(owner)
    practice.billing_status = BillingStatus.PAST_DUE
    practice.last_payment_error = DECLINE_REASONS["insufficient_funds"]  # stored in English
    db.session.commit()
    client = login(auth, owner)

    vi = page(client, "/practices/", VI)
    assert 'data-banner="payment_failed"' in vi
    assert "thanh toán không thành công." in vi
    assert "Ngân hàng đã từ chối khoản thanh toán do không đủ số dư." in vi
    assert "Stripe sẽ thử thu lại" in vi and "Cập nhật thẻ" in vi
    assert "insufficient funds" not in vi and "Update card" not in vi

    en = page(client, "/practices/", EN)
    assert "payment failed." in en and "Your bank declined the payment for insufficient funds." in en
    assert "Stripe will retry; the practice keeps its access meanwhile." in en and "Update card" in en


def test_billing_required_banner_and_the_practice_list(auth, owner):
    make_practice(owner)  # no subscription yet: billing required
    client = login(auth, owner)
    vi = page(client, "/practices/", VI)
    assert "cần thanh toán." in vi and "Thiết lập thanh toán" in vi
    assert "Phòng khám của bạn" in vi and ">Cần thanh toán<" in vi and ">Chủ phòng khám<" in vi
    en = page(client, "/practices/", EN)
    assert (
        "billing required." in en
        and "Set up billing" in en
        and ">Billing required<" in en
        and ">Owner<" in en
    )


def test_a_refusal_is_said_in_the_readers_language(auth, owner, user_factory):
    practice = make_practice(owner)
    member = add_member(practice, user_factory(name="Minh"), MemberRole.MEMBER)
    db.session.commit()
    client = login(auth, owner)
    url = f"/practices/{practice.id}/members"
    owner_row = next(m for m in practice.members if m.role == MemberRole.OWNER)
    for headers, refusal in (
        (VI, "Không thể gỡ người này."),
        (EN, "That person cannot be removed."),
    ):
        csrf = extract_csrf(page(client, url, headers))
        response = client.post(
            f"/practices/{practice.id}/members/{owner_row.id}/remove",
            data={"csrf_token": csrf},
            headers=headers,
        )
        assert response.status_code == 404
        assert refusal in response.get_data(as_text=True)
    assert member.id  # the member stays

    gone = client.get("/practices/invitations/not-a-token", headers=VI)
    assert gone.status_code == 404
    assert "Lời mời này không còn hiệu lực" in gone.get_data(as_text=True)


def test_history_lines_are_said_in_the_readers_language(auth, owner):
    practice = make_practice(owner)
    audit.record(practice, "member_invited", "lan@example.com as MemberRole.ADMIN", actor_id=owner.id)
    audit.record(practice, "status_changed", "REQUIRED → DONE")
    audit.record(practice, "plan_changed", "Monthly → Every 6 months", actor_id=owner.id)
    audit.record(practice, "renewal_reminder", "renews 2027-03-01")
    db.session.commit()
    client = login(auth, owner)
    url = f"/practices/{practice.id}/history"

    vi = page(client, url, VI)
    for words in (
        "Lịch sử thanh toán",
        "Đã mời lan@example.com với vai trò quản trị viên",
        "Trạng thái thanh toán: Cần thanh toán → Đang hoạt động",
        "Đã đổi gói từ Gói tháng sang Gói 6 tháng",
        "Đã gửi nhắc gia hạn: gia hạn vào ngày 1 thg 3, 2027",
    ):
        assert words in vi, words
    assert "Plan switched" not in vi and "Billing status" not in vi

    en = page(client, url, EN)
    for words in (
        "Billing history",
        "lan@example.com invited as admin",
        "Billing status: Billing required → Active",
        "Plan switched from Monthly to Every 6 months",
        "Renewal reminder sent: renews on 01 Mar 2027",
    ):
        assert words in en, words
