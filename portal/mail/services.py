"""Outgoing email: real SMTP through Flask-Mail, or the log when no server is set."""

from __future__ import annotations

import logging

from flask import current_app, render_template
from flask_mail import Message

from portal.extensions import mail

log = logging.getLogger(__name__)


def send_email(to: str, subject: str, template: str, **context: object) -> None:
    """Send ``templates/mail/<template>.txt`` and ``.html`` to one address."""
    text = render_template(f"mail/{template}.txt", **context)
    html = render_template(f"mail/{template}.html", **context)
    if not current_app.config.get("MAIL_SERVER"):
        log.info("email not sent (no MAIL_SERVER): to=%s subject=%r\n%s", to, subject, text)
        return
    message = Message(subject=subject, recipients=[to], body=text, html=html)
    mail.send(message)
