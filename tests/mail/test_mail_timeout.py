"""Issue 14 round 2: a mail server that never answers costs a send MAIL_TIMEOUT; no page waits on it."""

from __future__ import annotations

import time

import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from tests.auth.conftest import cookie_client, submit
from tests.smtp import HungSMTPServer


def _resets() -> list[OutboundEmail]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(OutboundEmail).filter_by(template="reset_password")))


def test_send_emails_gives_up_on_a_hung_server_after_mail_timeout(app, runner, user, mailbox):
    app.config["MAIL_TIMEOUT"] = 1
    client = cookie_client(app)
    with HungSMTPServer() as hung:
        app.extensions["mail"].port = hung.port
        assert submit(client, "/forgot-password", {"email": user.email}).status_code == 302
        started = time.monotonic()
        result = runner.invoke(args=["billing", "send-emails"])
        took = time.monotonic() - started
    assert result.exit_code == 0 and took < 10, (took, result.output)
    [row] = _resets()
    assert row.sent_at is None and "timed out" in row.last_error  # waiting, with its reason

    app.extensions["mail"].port = app.config["MAIL_PORT"]
    assert runner.invoke(args=["billing", "send-emails"]).output.strip().endswith("unsent 0")
    assert "Reset your password" in mailbox.wait_for(user.email, "Reset")["Subject"]


def test_a_reset_request_does_the_same_work_for_a_known_and_an_unknown_address(app, user, mailbox):
    """Nothing about the address is looked up while the answer is made: known and unknown take as long."""
    client = cookie_client(app)
    for email, emails_after in ((user.email, 1), ("nobody@example.com", 1)):
        response = submit(client, "/forgot-password", {"email": email}, buffered=False)
        assert response.status_code == 302 and len(_resets()) == emails_after - (email == user.email)
        response.close()  # as the WSGI server does once the page is sent: now the lookup and the email
        assert len(_resets()) == emails_after
    [row] = _resets()
    assert row.recipient == user.email
    assert mailbox.wait_for(user.email, "Reset your password")
