"""The development inbox: with no MAIL_SERVER, outside production, read the outbox in the browser.

Registered only when ``DEV_INBOX`` is on (never in production), and answers only
requests from this machine: it shows every email's body, reset links included.
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request

from portal.extensions import db
from portal.mail.models import OutboundEmail

bp = Blueprint("dev_inbox", __name__)

#: The newest emails shown; the outbox keeps them all.
INBOX_SIZE = 100


@bp.before_request
def only_from_this_machine() -> None:
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        local = False
    if not local:
        abort(404)


@bp.get("/dev/inbox")
def inbox():
    emails = db.session.scalars(sa.select(OutboundEmail).order_by(OutboundEmail.id.desc()).limit(INBOX_SIZE))
    return render_template("dev/inbox.html", emails=list(emails))
