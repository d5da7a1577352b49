"""The scheduler's table (Celery beat): what runs when. Plain data; ``tests/jobs`` asserts it.

No cron: ``make run`` starts beat embedded in its one worker, ``make run-distributed`` one beat
process (one only: two would send every job twice, which the jobs would survive but not need).
"""

from __future__ import annotations

from celery.schedules import crontab

#: Task names (``tasks.register_tasks`` gives each its name).
RETRY_PENDING = "portal.jobs.retry_pending"
SEND_EMAILS = "portal.jobs.send_emails"
RELEASE_STALE_ORDERS = "portal.jobs.release_stale_orders"
NIGHTLY_RECONCILE = "portal.jobs.nightly_reconcile"
PROCESS_WEBHOOK_EVENT = "portal.jobs.process_webhook_event"

BEAT_SCHEDULE = {
    # Customers an outage left pending, billing changes Stripe did not answer, invoices left open.
    "retry-pending-every-5-minutes": {"task": RETRY_PENDING, "schedule": 300.0},
    # Emails a failed send left in the outbox (queued at least a minute ago: not one being sent now).
    "send-emails-every-2-minutes": {"task": SEND_EMAILS, "schedule": 120.0, "kwargs": {"min_age": 60}},
    # Orders whose payment was abandoned (pending over 30 minutes): stock back.
    "release-stale-orders-every-10-minutes": {
        "task": RELEASE_STALE_ORDERS,
        "schedule": 600.0,
        "kwargs": {"minutes": 30},
    },
    # Compare with Stripe, report the drift on /admin/jobs and email the platform admins if any.
    "reconcile-nightly": {"task": NIGHTLY_RECONCILE, "schedule": crontab(hour=3, minute=15)},
}
