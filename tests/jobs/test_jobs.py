"""Each job, in-process (no QUEUE_URL): run twice, one effect; the schedule; a job failing for good."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from celery.schedules import crontab

from portal.extensions import db
from portal.jobs import schedule
from portal.jobs.models import FailedJob, ReconcileReport
from portal.mail.models import OutboundEmail
from portal.shop import catalog
from portal.shop.models import Order, OrderStatus
from portal.users.models import Role
from portal.wallet import services as wallet
from portal.wallet.models import PaymentMethod
from portal.webhooks import services
from portal.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import extract_csrf
from tests.factories import OrderFactory, OutboundEmailFactory, make_user
from tests.jobs.conftest import run_job
from tests.shop.conftest import make_product, stock_of
from tests.stripe_payloads import deliver, make_event, payment_method


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_scheduler_table(app):
    """What runs when: the table beat reads, every entry a registered job."""
    celery = app.extensions["celery"]
    table = celery.conf.beat_schedule
    assert {name: (entry["task"], entry["schedule"]) for name, entry in table.items()} == {
        "retry-pending-every-5-minutes": ("portal.jobs.retry_pending", 300.0),
        "send-emails-every-2-minutes": ("portal.jobs.send_emails", 120.0),
        "release-stale-orders-every-10-minutes": ("portal.jobs.release_stale_orders", 600.0),
        "reconcile-nightly": ("portal.jobs.nightly_reconcile", crontab(hour=3, minute=15)),
    }
    assert table["send-emails-every-2-minutes"]["kwargs"] == {"min_age": 60}
    assert table["release-stale-orders-every-10-minutes"]["kwargs"] == {"minutes": 30}
    assert all(entry["task"] in celery.tasks for entry in table.values())
    assert schedule.PROCESS_WEBHOOK_EVENT in celery.tasks


def test_without_a_queue_jobs_run_in_process_and_webhooks_in_their_request(app, client):
    assert app.config.get("QUEUE_URL") is None and app.extensions["celery"].conf.task_always_eager
    event = make_event("payment_method.attached", payment_method("pm_inproc", "cus_1"))
    response = deliver(client, event)
    assert response.status_code == 200 and response.json["outcome"] == "processed"
    assert count(PaymentMethod) == 1


def test_the_webhook_job_applies_an_event_once(app):
    event = make_event("payment_method.attached", payment_method("pm_job", "cus_1"))
    row_id = services.store_event(event, json.dumps(event))

    first = run_job(app, schedule.PROCESS_WEBHOOK_EVENT, row_id)
    second = run_job(app, schedule.PROCESS_WEBHOOK_EVENT, row_id)

    assert (first.get(), second.get()) == ("processed", "duplicate")
    assert count(PaymentMethod) == 1
    row = db.session.get(WebhookEvent, row_id)
    assert row.status == EventStatus.PROCESSED and row.attempts == 1


def test_the_email_job_sends_each_email_once(app, mailbox):
    waiting = OutboundEmailFactory(recipient="waiting@example.com", subject="Your receipt")
    db.session.commit()

    run_job(app, schedule.SEND_EMAILS)
    run_job(app, schedule.SEND_EMAILS)

    assert len(mailbox.to("waiting@example.com")) == 1
    assert db.session.get(OutboundEmail, waiting.id).sent_at is not None


def test_the_retry_job_creates_a_pending_customer_once(app, sandbox):
    with sandbox.outage():
        user = make_user(name="Grace Hopper", email="grace@example.com")
    assert user.stripe_customer_id is None

    first = run_job(app, schedule.RETRY_PENDING).get()
    second = run_job(app, schedule.RETRY_PENDING).get()

    assert (first["customers"], second["customers"]) == (1, 0)
    db.session.refresh(user)
    found = sandbox.client().v1.customers.search({"query": f"metadata['userRef']:'{user.stripe_ref}'"})
    assert [customer.id for customer in found.data] == [user.stripe_customer_id]


def test_the_retry_job_applies_an_event_stored_but_never_applied_once(app, user, sandbox):
    """An event whose job was lost on its way to a worker (killed with it taken) stays ``received``:
    the retry job applies it once it has waited 15 minutes, and not before."""
    wallet.attach_card(wallet.user_wallet(user), "pm_card_visa")
    card = payment_method("pm_stranded", user.stripe_customer_id, last4="1881")
    event = make_event("payment_method.attached", card)
    row_id = services.store_event(event, json.dumps(event))  # stored, its job never run
    assert run_job(app, schedule.RETRY_PENDING).get()["stranded_events"] == 0  # just came: waits

    row = db.session.get(WebhookEvent, row_id)
    row.received_at -= dt.timedelta(minutes=16)
    db.session.commit()
    first = run_job(app, schedule.RETRY_PENDING).get()
    second = run_job(app, schedule.RETRY_PENDING).get()

    assert (first["stranded_events"], second["stranded_events"]) == (1, 0)
    assert db.session.get(WebhookEvent, row_id, populate_existing=True).status == EventStatus.PROCESSED
    assert db.session.scalar(sa.select(PaymentMethod).where(PaymentMethod.stripe_id == "pm_stranded"))


def test_the_retry_job_sends_again_a_failed_event_whose_retry_was_lost(app, user, sandbox):
    """Recheck R3: a failed event's next retry waited in a worker killed meanwhile (or a broker that
    lost it): after an hour the retry job sends it again, while it has tries left; one that used
    them all is left to /admin/jobs and /admin/events."""
    wallet.attach_card(wallet.user_wallet(user), "pm_card_visa")
    card = payment_method("pm_retry_lost", user.stripe_customer_id, last4="1117")
    event = make_event("payment_method.attached", card)
    row_id = services.store_event(event, json.dumps(event))
    spent = make_event("payment_method.attached", payment_method("pm_spent", user.stripe_customer_id))
    spent_id = services.store_event(spent, json.dumps(spent))
    for row, attempts in (
        (db.session.get(WebhookEvent, row_id), 1),
        (db.session.get(WebhookEvent, spent_id), 6),
    ):
        row.status, row.attempts, row.last_error = EventStatus.FAILED, attempts, "StripeUnavailable: down"
    db.session.commit()
    assert run_job(app, schedule.RETRY_PENDING).get()["stranded_events"] == 0  # its retry may still come

    for row in db.session.scalars(sa.select(WebhookEvent)).all():
        row.received_at -= dt.timedelta(hours=2)
    db.session.commit()
    assert run_job(app, schedule.RETRY_PENDING).get()["stranded_events"] == 1
    db.session.expire_all()
    assert db.session.get(WebhookEvent, row_id).status == EventStatus.PROCESSED
    assert db.session.get(WebhookEvent, spent_id).status == EventStatus.FAILED  # its tries were all used


def test_the_stale_order_job_gives_the_stock_back_once(app, user, sandbox):
    wallet.attach_card(wallet.user_wallet(user), "pm_card_visa")  # the buyer has a Stripe customer
    product = make_product(stock=4)
    assert catalog.reserve_stock(product.id, 3)
    OrderFactory(user=user, product=product, quantity=3, receipt_email=user.email)
    db.session.commit()

    first = run_job(app, schedule.RELEASE_STALE_ORDERS, minutes=-1).get()
    second = run_job(app, schedule.RELEASE_STALE_ORDERS, minutes=-1).get()

    assert (first["released"], second["released"]) == (1, 0)
    assert stock_of(product.id) == 4
    assert db.session.scalar(sa.select(Order.status)) == OrderStatus.CANCELED


def test_the_nightly_reconcile_reports_drift_and_emails_the_admins_once(app, mailbox, sandbox):
    make_user(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)
    user = make_user(name="Grace Hopper", email="grace@example.com")
    wallet.attach_card(wallet.user_wallet(user), "pm_card_visa")
    db.session.execute(sa.delete(PaymentMethod))  # a card Stripe has and the mirror lost: drift
    db.session.commit()

    first = run_job(app, schedule.NIGHTLY_RECONCILE).get()
    second = run_job(app, schedule.NIGHTLY_RECONCILE).get()

    assert first == second >= 1
    assert count(ReconcileReport) == 1
    report = db.session.scalar(sa.select(ReconcileReport))
    assert report.day == dt.datetime.now(dt.UTC).date().isoformat()
    [card] = [line for line in json.loads(report.lines) if line.get("field") == "card"]  # kept as facts
    assert (card["owner"], card["name"], card["portal"]) == ("user", "grace@example.com", None)
    assert count(PaymentMethod) == 0  # a report, not a repair
    drift_emails = [m for m in mailbox.to("ada@example.com") if "Billing drift" in m["Subject"]]
    assert len(drift_emails) == 1


def test_a_job_failing_for_good_shows_on_the_admin_page_and_retries_from_there(
    app, auth, user_factory, monkeypatch, mailbox
):
    from portal.jobs import tasks

    def smtp_down(*args, **kwargs):
        raise ConnectionRefusedError("the mail relay is down")

    monkeypatch.setattr(tasks, "send_unsent", smtp_down)
    run_job(app, schedule.SEND_EMAILS, min_age=60)

    [job] = db.session.scalars(sa.select(FailedJob)).all()
    assert job.task_name == schedule.SEND_EMAILS and job.attempts == 2  # tried, retried once, given up
    assert "the mail relay is down" in job.error

    admin = user_factory(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)
    auth.login(admin.email)
    page = auth.client.get("/admin/jobs").get_data(as_text=True)
    assert "portal.jobs.send_emails" in page and "the mail relay is down" in page
    # In an admin's words (attack 19 A13), the count too: "1 job", not "1 jobs".
    assert "Send the emails waiting in the outbox" in page and "· 1 job<" in page
    assert "1 job failed for good" in auth.client.get("/admin/").get_data(as_text=True)

    monkeypatch.undo()  # the relay is back
    OutboundEmailFactory(recipient="late@example.com")
    db.session.commit()
    token = extract_csrf(page)
    response = auth.client.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    page = auth.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ran again and finished" in page
    assert len(mailbox.to("late@example.com")) == 1
    again = auth.client.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": token})
    assert "already sent again" in auth.client.get(again.headers["Location"]).get_data(as_text=True)
    assert auth.client.post("/admin/jobs/999999/retry", data={"csrf_token": token}).status_code == 404


def test_without_a_queue_retry_runs_the_job_once_and_says_it_failed_again(
    app, auth, user_factory, monkeypatch
):
    """Attack 19 A7: in-process, Retry ran the job's every retry back to back inside the admin's
    request (6 tries, 40 s with Stripe hanging) and then said "sent again" in green."""
    from portal.jobs import tasks

    tries = []

    def smtp_down(*args, **kwargs):
        tries.append(1)
        raise ConnectionRefusedError("the mail relay is down")

    monkeypatch.setattr(tasks, "send_unsent", smtp_down)
    run_job(app, schedule.SEND_EMAILS, min_age=60)
    [job] = db.session.scalars(sa.select(FailedJob)).all()
    tries.clear()

    admin = user_factory(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)
    auth.login(admin.email)
    token = extract_csrf(auth.client.get("/admin/jobs").get_data(as_text=True))
    response = auth.client.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": token})
    page = auth.client.get(response.headers["Location"]).get_data(as_text=True)
    assert len(tries) == 1  # once, not its every retry
    assert "ran again and failed again" in page
    db.session.expire_all()
    rows = db.session.scalars(sa.select(FailedJob).order_by(FailedJob.id)).all()
    assert len(rows) == 2 and rows[0].retried_at is not None and rows[1].retried_at is None
    assert rows[1].attempts == 1 and "the mail relay is down" in rows[1].error
