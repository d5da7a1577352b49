"""Every email reads in its recipient's language and time zone, whoever queues it (issue 18).

A webhook's request reads in English and UTC; the email it queues reads in the language the
recipient chose (``users.locale``), else the practice's (Vietnamese for a practice in Vietnam, for
its billing address with no account), else English; its days in the practice's zone, else the
recipient's, else UTC. Each goes through a real SMTP server.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from babel.dates import format_date as babel_day
from babel.numbers import format_currency

from portal.auth import services as accounts
from portal.extensions import db
from portal.webhooks.services import Outcome, receive_event
from tests import stripe_payloads as p
from tests.factories import make_user
from tests.practices.conftest import make_practice
from tests.practices.test_mirror import subscribed
from tests.smtp import body_text
from tests.stripe_payloads import DAY, SECRETS_CONFIG, T0, deliver

#: 20:00 UTC on 21 Oct 2026: already 22 Oct in Ho Chi Minh City (UTC+7).
RENEWS = T0 + 30 * DAY + (20 * 3600 - (T0 + 30 * DAY) % DAY)


@pytest.fixture
def app_overrides() -> dict:
    return {"STRIPE_WEBHOOK_SECRET": SECRETS_CONFIG}


def renewal_reminder(practice) -> dict:
    inv = p.invoice(
        practice.id, practice.stripe_customer_id, id=None, status="draft", created=T0, number=None
    )
    inv.update(id=None, next_payment_attempt=RENEWS, amount_due=9900)
    return p.event("invoice.upcoming", inv, T0 + 27 * DAY, id="evt_upcoming_lang")


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_a_webhook_emails_a_vietnamese_owner_in_vietnamese_with_the_practices_days(client, mailbox):
    owner = make_user(name="Chị Lan", email="lan@example.com")
    owner.locale = "vi"
    practice = make_practice(owner, name="Nha khoa Sài Gòn")
    practice.timezone = "Asia/Ho_Chi_Minh"
    subscribed(practice)
    db.session.commit()
    mailbox.clear()  # the confirmation email of the account

    assert deliver(client, renewal_reminder(practice)).status_code == 200  # an English, UTC request

    [message] = mailbox.to("lan@example.com")
    day = babel_day(dt.date(2026, 10, 22), "medium", locale="vi")  # not the 21st: Ho Chi Minh City's
    assert day == "22 thg 10, 2026"
    assert str(message["Subject"]) == f"Nha khoa Sài Gòn: gói đăng ký sẽ gia hạn vào {day}"
    text, html = body_text(message), html_of(message)
    amount = format_currency(99, "USD", locale="vi")  # 99,00 US$
    for body in (text, html):
        assert "Xin chào," in body and "sẽ gia hạn vào " + day in body
        assert "Thẻ mặc định của phòng khám sẽ bị trừ" in body and amount in body
        assert "renews on" not in body and "Practice Billing" in body
    assert "Để dùng thẻ khác, hoặc đổi hay huỷ gói trước ngày đó" in text


def test_an_english_owner_gets_the_same_email_in_english_and_utc(client, mailbox):
    owner = make_user(name="Olive Owner", email="olive@example.com")
    practice = make_practice(owner, name="Harbour Dental")
    subscribed(practice)
    db.session.commit()
    mailbox.clear()  # the confirmation email of the account

    body = json.dumps(renewal_reminder(practice))
    answer = client.post(  # as deliver() does, from a client that asks for Vietnamese
        "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": p.signature(body, p.SECRET, None), "Accept-Language": "vi"},
        content_type="application/json",
    )
    assert answer.status_code == 200

    [message] = mailbox.to("olive@example.com")
    assert str(message["Subject"]) == "Harbour Dental: your subscription renews on 21 Oct 2026"
    for body in (body_text(message), html_of(message)):
        assert "The Monthly subscription of" in body and "renews on 21 Oct 2026" in body
        assert "$99.00" in body and "Xin chào" not in body


def test_a_practice_in_vietnam_writes_to_its_billing_address_in_vietnamese(app, mailbox):
    """No account has the billing address: the practice's language and zone (it is in Vietnam)."""
    owner = make_user(name="Olive Owner", email="olive@example.com")
    practice = make_practice(owner, name="Phòng khám An Bình", customer_id="cus_vn")
    subscribed(practice)
    practice.billing_email = "ketoan@anbinh.example"
    practice.address_country = "VN"
    paid = p.invoice(practice.id, "cus_vn", id="in_vn", created=RENEWS)  # paid at RENEWS
    event = p.event("invoice.paid", paid, RENEWS)
    assert receive_event(event, json.dumps(event)) is Outcome.PROCESSED

    [message] = mailbox.to("ketoan@anbinh.example")
    assert str(message["Subject"]).startswith("Phòng khám An Bình: biên nhận cho hoá đơn ")
    text = body_text(message)
    assert "Cảm ơn bạn. Chúng tôi đã nhận được khoản thanh toán của phòng khám Phòng khám An Bình." in text
    assert "Ngày thanh toán: 22 thg 10, 2026" in text  # Ho Chi Minh City's day of a 20:00 UTC payment
    assert "Tổng đã thanh toán: " in text and "Thank you" not in text


def test_an_account_email_follows_the_accounts_language_not_the_page_it_was_asked_on(app, mailbox):
    """A reset asked for from a Vietnamese page, for an account whose person chose English."""
    user = make_user(name="Ann", email="ann@example.com")
    user.locale = "en"
    viet = make_user(name="Bảo", email="bao@example.com")
    viet.locale = "vi"
    db.session.commit()
    mailbox.clear()
    with app.test_request_context(headers={"Accept-Language": "vi"}):
        accounts.request_password_reset("ann@example.com")
        accounts.request_password_reset("bao@example.com")
    [english] = mailbox.to("ann@example.com")
    [vietnamese] = mailbox.to("bao@example.com")
    assert str(english["Subject"]) == "Reset your password"
    assert "Someone asked to reset the password of your Practice Billing account." in body_text(english)
    assert str(vietnamese["Subject"]) == "Đặt lại mật khẩu"
    assert "Có người đã yêu cầu đặt lại mật khẩu tài khoản Practice Billing của bạn." in body_text(vietnamese)


def test_an_owner_who_chose_no_language_reads_english_with_the_practices_days(client, mailbox):
    """The practice's language is only for an address no account has; its zone is for everyone."""
    owner = make_user(name="Olive Owner", email="olive@example.com")
    practice = make_practice(owner, name="Harbour Dental")
    practice.address_country = "VN"  # Ho Chi Minh City's zone, Vietnamese for its billing address
    subscribed(practice)
    db.session.commit()
    mailbox.clear()

    assert deliver(client, renewal_reminder(practice)).status_code == 200

    [message] = mailbox.to("olive@example.com")
    assert str(message["Subject"]) == "Harbour Dental: your subscription renews on 22 Oct 2026"
