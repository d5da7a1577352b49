"""The portal as ``make run`` serves it, plus the two baselines the benchmarks compare against.

The baselines live in the same app, so a ratio isolates what our pages add on top of Flask,
SQLAlchemy and the WSGI server, not the machine's speed.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Blueprint, request

from portal import create_app
from portal.extensions import csrf, db
from portal.gateway.errors import InvalidWebhook
from portal.gateway.webhooks import verify_event
from portal.users.models import User

baseline = Blueprint("bench_baseline", __name__, url_prefix="/_bench")

BENCH_TABLE = sa.Table(
    "bench_webhook_rows",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("event_id", sa.String(80), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
)


@baseline.get("/page")
def bare_page():
    """A bare page: one SQLAlchemy query, a tiny response."""
    count = db.session.scalar(sa.select(sa.func.count(User.id)))
    return f"<!doctype html><p>{count} users</p>"


@baseline.post("/webhook")
@csrf.exempt
def bare_webhook():
    """Verify the signature and insert one row: the least a webhook endpoint can do."""
    payload = request.get_data()
    try:
        event = verify_event(payload, request.headers.get("Stripe-Signature", ""), ["whsec_bench"])
    except InvalidWebhook:
        return "", 400
    db.session.execute(BENCH_TABLE.insert().values(event_id=event["id"], payload=payload.decode()))
    db.session.commit()
    return "", 200


app = create_app(os.environ.get("PORTAL_ENV", "development"))
app.register_blueprint(baseline)
with app.app_context():
    BENCH_TABLE.create(db.engine, checkfirst=True)
