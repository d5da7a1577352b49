"""Figure: emails lost to a send failure (0).

Every kind of email the portal sends, queued through its real service while
sending fails three ways: a CR/LF in a name that lands in a header (a practice
name already in the database; Flask-Mail raised BadHeaderError on it), the SMTP
server down, and the SMTP server refusing the recipient. None may be marked sent
without leaving; ``flask billing send-emails`` with SMTP back then delivers every
one exactly once, over the real SMTP test server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from portal.auth import services as accounts
from portal.auth import tokens
from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.mail.services import header_safe
from portal.practices import notifications, receipts
from portal.practices.models import Practice
from portal.shop import settlement
from portal.shop.models import Product
from portal.users.models import Role
from tests import stripe_payloads
from tests.factories import (
    DEFAULT_PASSWORD,
    OrderFactory,
    OutboundEmailFactory,
    PracticeFactory,
    ProductFactory,
    make_user,
)
from tests.smtp import free_port


@pytest.fixture
def app_overrides() -> dict:
    # One account asks for many email changes here (each kind, each failure): not a flood.
    return {"EMAIL_CHANGE_THROTTLE": "1000 per hour"}


EVIL_NAME = "Acme Clinic\r\nBcc: evil@example.com"


def _practice(owner) -> Practice:
    # As stored before names were checked, or set by a webhook.
    return PracticeFactory(name=EVIL_NAME, owner=owner, stripe_customer_id=None)


def _paid_order(buyer) -> None:
    product = db.session.scalar(sa.select(Product)) or ProductFactory(
        name="Thermometer\r\nBcc: evil@example.com", price=1999, stock=9
    )
    order = OrderFactory(user=buyer, product=product, receipt_email=buyer.email)
    settlement.settle_paid(order, f"pi_{order.reference}")
    db.session.commit()


def every_kind(owner, other, practice: Practice, phase: str) -> dict[str, Callable[[], None]]:
    """One trigger per email kind, each through the service that sends it in the portal."""

    def practice_email(subject: str, template: str, **context):
        def send():
            notifications.notify(practice, f"{practice.name}: {subject}", template, **context)
            db.session.commit()

        return send

    def receipt():
        invoice = stripe_payloads.invoice(practice.id, "cus_x", id=f"in_paid_{phase}", number=f"PB-{phase}")
        receipts.send_receipt(practice, invoice, invoice["created"])
        db.session.commit()

    def admin_alert():
        notifications.alert_admins(
            f"Stripe could not finalize invoice in_{phase}",
            "admin_finalization_failed",
            invoice_id=f"in_{phase}",
            customer_id="cus_x",
            practice=practice,
            reason=EVIL_NAME,
        )
        db.session.commit()

    return {
        "verify_email": lambda: accounts.send_verification_email(owner),
        "reset_password": lambda: accounts.request_password_reset(owner.email),
        "register_attempt": lambda: accounts.register_or_notify("Someone", owner.email, "a-long-password-1"),
        "confirm_email_change": lambda: accounts.request_email_change(
            owner, f"new-{phase}@example.com", current_password=DEFAULT_PASSWORD
        ),
        "email_change_attempt": lambda: accounts.request_email_change(
            owner, other.email, current_password=DEFAULT_PASSWORD
        ),
        "email_change_requested": lambda: accounts.request_email_change(
            owner, f"next-{phase}@example.com", current_password=DEFAULT_PASSWORD
        ),
        "email_changed": lambda: accounts.confirm_email_change(
            tokens.make_email_change_token(owner, f"moved-{phase}@example.com")
        ),
        "practice_payment_failed": practice_email(
            "a payment failed", "practice_payment_failed", reason="Declined.", hosted_invoice_url=None
        ),
        "practice_action_required": practice_email(
            "confirm a payment",
            "practice_action_required",
            invoice_id="in_sca",
            hosted_invoice_url="https://example.com/i",
        ),
        "practice_cancellation_scheduled": practice_email(
            "subscription ends", "practice_cancellation_scheduled", ends_on="1 January 2027"
        ),
        "practice_renewal_reminder": practice_email(
            "renews soon",
            "practice_renewal_reminder",
            renews_on="1 January 2027",
            amount=9900,
            currency="usd",
            plan_label="Monthly",
        ),
        "practice_receipt": receipt,
        "admin_finalization_failed": admin_alert,
        "shop_receipt": lambda: _paid_order(owner),
    }


def _rows_after(last_id: int) -> list[OutboundEmail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboundEmail).where(OutboundEmail.id > last_id)))


def _last_id() -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboundEmail.id), 0)))


def test_no_email_is_lost_to_a_send_failure(app, runner, mailbox, figure):
    owner = make_user(name="Olive\r\nOwner", email="olive@example.com")
    other = make_user(email="other@example.com")
    make_user(email="admin@example.com", role=Role.ADMIN)
    practice = _practice(owner)
    smtp = app.extensions["mail"]
    good_port = smtp.port
    start = _last_id()
    mailbox.clear()
    kinds = set()

    # 1. A CR/LF in names that reach a header; also a row stored before headers were cleaned.
    OutboundEmailFactory(
        recipient=owner.email, subject=f"{EVIL_NAME}: an old notice", template="practice_payment_failed",
        text_body="An old notice.", html_body="<p>An old notice.</p>",
    )  # fmt: skip
    for kind, trigger in every_kind(owner, other, practice, "crlf").items():
        kinds.add(kind)
        trigger()

    # 2. The SMTP server down: every row stays unsent.
    before = _last_id()
    smtp.port = free_port()
    try:
        for trigger in every_kind(owner, other, practice, "down").values():
            trigger()
    finally:
        smtp.port = good_port
    down = _rows_after(before)
    assert {row.template for row in down} == kinds
    assert all(row.sent_at is None and row.last_error for row in down)

    # 3. The SMTP server refusing the recipient: every row stays unsent.
    before = _last_id()
    with mailbox.refusing_recipients():
        for trigger in every_kind(owner, other, practice, "refused").values():
            trigger()
    refused = _rows_after(before)
    assert {row.template for row in refused} == kinds
    assert all(row.sent_at is None and "Refused" in row.last_error for row in refused)

    # SMTP back: send-emails delivers every unsent one, once; a second run finds nothing.
    result = runner.invoke(args=["billing", "send-emails"])
    assert result.exit_code == 0 and result.output.strip().endswith("unsent 0"), result.output
    assert runner.invoke(args=["billing", "send-emails"]).output.strip() == "sent 0, unsent 0"

    rows = _rows_after(start)
    queued = Counter((row.recipient, header_safe(row.subject)) for row in rows)  # as it was sent
    delivered = Counter((m["To"], str(m["Subject"])) for m in mailbox.messages)
    lost = sum((queued - delivered).values())
    duplicated = sum((delivered - queued).values())
    assert all(row.sent_at is not None for row in rows)
    assert lost == 0 and duplicated == 0, (queued - delivered, delivered - queued)
    assert mailbox.to("evil@example.com") == []
    assert all("\n" not in str(m["Subject"]) and m["Bcc"] is None for m in mailbox.messages)
    figure(
        "emails_lost_to_send_failures",
        lost,
        f"of {len(rows)} emails lost ({len(kinds)} kinds x CR/LF in names, SMTP down, recipient refused; "
        "send-emails then delivered each once)",
    )
