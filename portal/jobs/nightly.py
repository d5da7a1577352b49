"""The nightly reconcile: compare with Stripe, keep the report, tell the platform admins of drift.

It only reports (``flask billing reconcile --fix`` repairs, by a person who has read the report):
a repair made unattended at night could undo what an admin was doing in Stripe's dashboard.
One report per UTC day; running it again the same day replaces the report and sends no second email.
Its lines are kept as facts and said in the reader's language when shown (``report_lines``): on
``/admin/jobs`` in the admin's, in the email in each recipient's.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.database import upsert_insert, utcnow
from portal.extensions import db
from portal.jobs import report_lines
from portal.jobs.models import ReconcileReport
from portal.mail.outbox import caused_by
from portal.practices.notifications import alert_admins
from portal.webhooks import reconcile

#: Lines kept in a report (the count is always whole).
MAX_LINES = 200


def run() -> ReconcileReport:
    missing = reconcile.missing_events()
    drifts = []
    targets = reconcile.targets()
    view = reconcile.StripeView.read()  # every subscription and invoice, in pages of 100
    for target in targets:
        drifts.extend(reconcile.reconcile_target(target, fix=False, view=view))  # rolls its reads back
    lines = [report_lines.drift_fact(drift) for drift in drifts]  # the differences first: an admin fixes them
    lines += [report_lines.event_fact(event) for event in missing]
    day = utcnow().date().isoformat()
    values = {
        "ran_at": utcnow(),
        "checked": len(targets),
        "drift_count": len(drifts),
        "missing_events": len(missing),
        "lines": report_lines.dumps(lines[:MAX_LINES]),
    }
    table = ReconcileReport.__table__
    db.session.execute(
        upsert_insert(table)
        .values(day=day, **values)
        .on_conflict_do_update(index_elements=[table.c.day], set_=values)
    )
    if lines:
        with caused_by(f"reconcile:{day}"):  # one email a night, however often it runs
            alert_admins(
                _l(
                    "Billing drift: %(drifts)s differences with Stripe, %(missing)s events missing",
                    drifts=len(drifts),
                    missing=len(missing),
                ),
                "admin_reconcile_drift",
                day=day,
                drift_count=len(drifts),
                missing_events=len(missing),
                checked=len(targets),
                lines=lines[:20],
            )
    db.session.commit()
    return db.session.scalar(sa.select(ReconcileReport).where(ReconcileReport.day == day))


def latest() -> ReconcileReport | None:
    return db.session.scalar(sa.select(ReconcileReport).order_by(ReconcileReport.ran_at.desc()).limit(1))
