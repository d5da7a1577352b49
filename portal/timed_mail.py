"""Flask-Mail with a time limit on every SMTP conversation.

Flask-Mail 0.10 opens ``smtplib.SMTP(server, port)`` with no timeout: a mail server
that accepts the connection and never answers held the sending thread for minutes.
Every connection here carries ``MAIL_TIMEOUT`` seconds (connect and each reply), so a
hung server fails the send, which leaves the row unsent with its error for
``flask billing send-emails``.
"""

from __future__ import annotations

import smtplib

from flask import current_app
from flask_mail import Connection, Mail


class TimedConnection(Connection):
    """Flask-Mail's connection, opened with a socket timeout."""

    def __init__(self, mail, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=self.timeout)
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


class TimedMail(Mail):
    """``Mail`` whose every connection (``send`` included) is a ``TimedConnection``."""

    def connect(self) -> TimedConnection:
        app = getattr(self, "app", None) or current_app
        return TimedConnection(app.extensions["mail"], app.config["MAIL_TIMEOUT"])
