"""Outgoing email: real SMTP through Flask-Mail, or the log when no server is set."""

from __future__ import annotations

import logging
import smtplib

from flask import current_app, render_template
from flask_mail import Message

from portal.extensions import mail

log = logging.getLogger(__name__)


def send_email(to: str, subject: str, template: str, **context: object) -> bool:
    """Send ``templates/mail/<template>.txt`` and ``.html`` to one address; True if sent.

    A mail server that is down never fails the person's action (the account is
    already saved): the failure is logged and they can ask for the email again.
    """
    text, html = render_email(template, **context)
    return deliver_email(to, subject, text, html)


def render_email(template: str, **context: object) -> tuple[str, str]:
    """The text and HTML bodies of ``templates/mail/<template>``."""
    return render_template(f"mail/{template}.txt", **context), render_template(
        f"mail/{template}.html", **context
    )


def deliver_email(to: str, subject: str, text: str, html: str) -> bool:
    """Send bodies already rendered (e.g. after a commit, when templates may not query any more)."""
    if not current_app.config.get("MAIL_SERVER"):
        log.info("email not sent (no MAIL_SERVER): to=%s subject=%r\n%s", to, subject, text)
        return False
    message = Message(subject=subject, recipients=[to], body=text, html=html)
    try:
        mail.send(message)
    except (smtplib.SMTPException, OSError):
        log.exception("email not sent (SMTP failed): to=%s subject=%r", to, subject)
        return False
    return True
