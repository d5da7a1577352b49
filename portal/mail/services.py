"""Outgoing email: real SMTP through Flask-Mail, or the log when no server is set."""

from __future__ import annotations

import logging
import smtplib

from flask import current_app, render_template
from flask_mail import Message

from portal.extensions import mail

log = logging.getLogger(__name__)


def render_email(template: str, **context: object) -> tuple[str, str]:
    """(plain text, HTML) of ``templates/mail/<template>.txt`` and ``.html``."""
    return render_template(f"mail/{template}.txt", **context), render_template(
        f"mail/{template}.html", **context
    )


def deliver_message(to: str, subject: str, text: str, html: str) -> bool:
    """Hand one rendered email to the SMTP server: True if sent, False if only logged (no server).

    Raises ``smtplib.SMTPException`` or ``OSError`` when the server fails.
    """
    if not current_app.config.get("MAIL_SERVER"):
        log.info("email not sent (no MAIL_SERVER): to=%s subject=%r\n%s", to, subject, text)
        return False
    mail.send(Message(subject=subject, recipients=[to], body=text, html=html))
    return True


def send_email(to: str, subject: str, template: str, **context: object) -> bool:
    """Send ``templates/mail/<template>.txt`` and ``.html`` to one address now; True if sent.

    For a person's own request (verify email, reset password). A mail server
    that is down never fails the person's action: the failure is logged and
    they can ask for the email again. Billing emails caused by Stripe go
    through ``portal.mail.outbox`` instead (sent once, after the commit).
    """
    text, html = render_email(template, **context)
    try:
        return deliver_message(to, subject, text, html)
    except (smtplib.SMTPException, OSError):
        log.exception("email not sent (SMTP failed): to=%s subject=%r", to, subject)
        return False
