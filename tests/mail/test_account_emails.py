"""Finding 11 and the log part of 14: account emails go through the outbox, and no failure loses one.

A CR/LF in a header (a practice name already in the database), an SMTP server that
is down or refuses the recipient: the row stays unsent for ``flask billing
send-emails``, never marked sent. With no MAIL_SERVER, links never reach the log.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from config import ProductionConfig
from portal import create_app
from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.mail.outbox import send_unsent
from tests.auth.conftest import cookie_client, submit
from tests.factories import OutboundEmailFactory
from tests.smtp import free_port

PASSWORD = "analytical-engine"


def _rows(**where) -> list[OutboundEmail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboundEmail).filter_by(**where).order_by(OutboundEmail.id)))


def test_a_crlf_in_a_stored_subject_is_sent_not_lost(app, mailbox):
    OutboundEmailFactory(
        recipient="owner@example.com",
        subject="Acme\r\nBcc: evil@example.com: payment failed",
        template="practice_payment_failed",
        text_body="Your payment failed.",
        html_body="<p>Your payment failed.</p>",
    )
    assert send_unsent() == (1, 0)
    message = mailbox.wait_for("owner@example.com", "payment failed")
    assert "\n" not in message["Subject"] and message["Bcc"] is None
    assert mailbox.to("evil@example.com") == []


def test_reset_and_verification_wait_out_an_smtp_outage(app, runner, user, mailbox):
    app.extensions["mail"].port = free_port()  # nothing listens there: SMTP is down
    client = cookie_client(app)
    data = {"name": "Ada Lovelace", "email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD}
    assert submit(client, "/register", data).status_code == 302
    assert submit(client, "/forgot-password", {"email": user.email}).status_code == 302
    pending = [(row.template, row.recipient) for row in _rows(sent_at=None)]
    assert ("verify_email", "ada@example.com") in pending and ("reset_password", user.email) in pending

    app.extensions["mail"].port = app.config["MAIL_PORT"]  # SMTP is back
    mailbox.clear()
    result = runner.invoke(args=["billing", "send-emails"])
    assert result.exit_code == 0 and result.output.strip().endswith("unsent 0"), result.output
    assert len(mailbox.to("ada@example.com")) == 1 and len(mailbox.to(user.email)) == 1


def test_without_a_mail_server_links_stay_out_of_the_log_and_land_in_the_dev_inbox(app, user, caplog):
    app.config["MAIL_SERVER"] = None
    caplog.set_level(logging.DEBUG)
    client = cookie_client(app)
    assert submit(client, "/forgot-password", {"email": user.email}).status_code == 302
    [row] = _rows(template="reset_password")
    assert "/reset-password/" in row.text_body
    assert all("/reset-password/" not in record.getMessage() for record in caplog.records)
    inbox = client.get("/dev/inbox")
    assert inbox.status_code == 200 and "/reset-password/" in inbox.get_data(as_text=True)


def test_the_dev_inbox_is_only_for_this_machine_and_never_in_production(app, database_url, sandbox):
    assert (
        cookie_client(app).get("/dev/inbox", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    )
    production_like = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=database_url, STRIPE_API_BASE=sandbox.url, DEV_INBOX=False
    )
    assert production_like.test_client().get("/dev/inbox").status_code == 404
    assert ProductionConfig.DEV_INBOX is False


def test_no_mail_server_in_production_leaves_emails_unsent(app, user):
    app.config.update(MAIL_SERVER=None, DEV_INBOX=False)
    assert submit(cookie_client(app), "/forgot-password", {"email": user.email}).status_code == 302
    [row] = _rows(template="reset_password")
    assert row.sent_at is None and "MAIL_SERVER" in row.last_error
