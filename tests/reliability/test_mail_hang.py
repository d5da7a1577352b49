"""Figure: pages held by a hung mail server (0), and the slowest answer while it hangs.

A mail server that accepts connections and never answers (not even its greeting)
held every page that sent an email: Flask-Mail's SMTP connection had no time limit
and the email went out inside the request. The portal is served over real sockets
(a threaded WSGI server, which closes each response once sent) with MAIL_PORT on
such a listener; pages that queue an email (a reset-link request for a known
address, a registration by form and by the API, a new confirmation link) must
answer at once. Each email is then tried after its response, times out after
MAIL_TIMEOUT and stays unsent with its error; `flask billing send-emails`, with the
real SMTP server back, delivers each one once.
"""

from __future__ import annotations

import time

import requests
import sqlalchemy as sa

from config import Config
from portal.extensions import db
from portal.mail.models import OutboundEmail
from tests.conftest import extract_csrf
from tests.reliability.live import HOST, Visitor, serve
from tests.smtp import HungSMTPServer

MAIL_TIMEOUT = 2.0  # short here, so the test waits little; the default (10 s) is checked below
#: A page that waited on the mail server would take at least MAIL_TIMEOUT.
HELD_SECONDS = MAIL_TIMEOUT * 0.75
PASSWORD = "hung-mail-password"


def _timed(call) -> tuple[float, int | None]:
    started = time.monotonic()
    try:
        status = call().status_code
    except requests.Timeout:
        status = None  # no answer at all: held
    return time.monotonic() - started, status


def _pages(base: str, visitor: Visitor) -> dict[str, callable]:
    """Each page that queues an email, as a person (or API client) would post it."""
    http = requests.Session()
    http.headers["Host"] = HOST

    def form(path: str, **fields: str) -> requests.Response:
        token = extract_csrf(http.get(f"{base}{path}", timeout=15).text)  # as someone logged out
        return http.post(
            f"{base}{path}", data={**fields, "csrf_token": token}, allow_redirects=False, timeout=15
        )

    def resend() -> requests.Response:
        fields = visitor.form("/account", "/account/verify-email")
        return visitor.http.post(
            f"{base}/account/verify-email", data=fields, allow_redirects=False, timeout=15
        )

    person = {"name": "Hung Person", "password": PASSWORD}
    return {
        "forgot-password": lambda: form("/forgot-password", email=visitor.email),
        "register": lambda: form("/register", email="form@example.com", confirm=PASSWORD, **person),
        "api register": lambda: http.post(
            f"{base}/users", json={**person, "email": "api@example.com"}, timeout=15
        ),
        "resend confirmation": resend,
    }


def _unsent() -> list[OutboundEmail]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(OutboundEmail).where(OutboundEmail.sent_at.is_(None))))


def test_a_hung_mail_server_holds_no_page(app, runner, user_factory, mailbox, figure):
    owner = user_factory(email="owner@example.com", password=PASSWORD)
    queued_before = {row.id for row in _unsent()}
    app.config["MAIL_TIMEOUT"] = MAIL_TIMEOUT
    with HungSMTPServer() as hung, serve(app) as base:
        app.extensions["mail"].port = hung.port
        visitor = Visitor(base, owner.email, PASSWORD)
        visitor.email = owner.email
        answers = {name: _timed(page) for name, page in _pages(base, visitor).items()}
        # The emails are tried after the answers: each one times out and waits, with its error.
        deadline = time.monotonic() + len(answers) * MAIL_TIMEOUT + 10
        while time.monotonic() < deadline:
            waiting = [row for row in _unsent() if row.id not in queued_before]
            if len(waiting) >= len(answers) and all(row.last_error for row in waiting):
                break
            time.sleep(0.2)
        reached = hung.connections

    held = [name for name, (seconds, status) in answers.items() if status is None or seconds >= HELD_SECONDS]
    slowest = max(seconds for seconds, _ in answers.values())
    figure(
        "mail_hang",
        len(held),
        f"of {len(answers)} pages held by a hung mail server, slowest answer {slowest:.2f} s "
        f"(MAIL_TIMEOUT {MAIL_TIMEOUT:.0f} s)",
    )
    assert held == [], answers
    assert Config.MAIL_TIMEOUT == 10  # the default every SMTP connection gets
    assert all(status in (200, 202, 302, 303) for _, status in answers.values()), answers
    assert reached >= len(answers)  # each email really went to the hung server
    assert len(waiting) == len(answers) and all("timed out" in row.last_error for row in waiting), [
        (row.template, row.last_error) for row in waiting
    ]

    app.extensions["mail"].port = app.config["MAIL_PORT"]  # the real SMTP server is back
    mailbox.clear()
    result = runner.invoke(args=["billing", "send-emails"])
    assert result.exit_code == 0 and result.output.strip().endswith("unsent 0"), result.output
    delivered = {(row.recipient, row.template) for row in waiting}
    for recipient, _ in delivered:
        assert len(mailbox.to(recipient)) == sum(1 for r, _ in delivered if r == recipient), recipient
