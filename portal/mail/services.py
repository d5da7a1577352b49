"""Outgoing email: real SMTP through Flask-Mail, or the development inbox when no server is set.

Every email goes through ``portal.mail.outbox`` (a row first, sent after the
commit); this module renders and hands one row to the server.
"""

from __future__ import annotations

import logging
import re

from flask import current_app, render_template
from flask_mail import Message

from portal.extensions import mail

log = logging.getLogger(__name__)

#: Control characters (CR and LF above all) and Unicode line/bidi controls: none belongs in a header.
_HEADER_BREAKERS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


class MailNotConfigured(Exception):
    """No MAIL_SERVER and no development inbox: the email waits in the outbox."""


def render_email(template: str, **context: object) -> tuple[str, str]:
    """(plain text, HTML) of ``templates/mail/<template>.txt`` and ``.html``."""
    return render_template(f"mail/{template}.txt", **context), render_template(
        f"mail/{template}.html", **context
    )


def header_safe(value: str) -> str:
    """One line: a CR/LF in a name (e.g. a practice's, in a subject) can never add a header."""
    return " ".join(_HEADER_BREAKERS.sub(" ", value or "").split())


def deliver_message(to: str, subject: str, text: str, html: str) -> bool:
    """Hand one rendered email to the SMTP server: True if it went out, False if the dev inbox keeps it.

    Raises on any failure (SMTP down, recipient refused, ...): the caller leaves the row unsent.
    Headers are made single-line here too, for rows stored before they were at queue time.
    """
    if not current_app.config.get("MAIL_SERVER"):
        if current_app.config.get("DEV_INBOX"):
            return False  # it stays readable at /dev/inbox; never its body or links in the log
        raise MailNotConfigured("no MAIL_SERVER is set")
    mail.send(Message(subject=header_safe(subject), recipients=[header_safe(to)], body=text, html=html))
    return True
