"""Queue mode (QUEUE_URL on the machine's Redis, db 8) with real Celery worker processes."""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.wallet.models import PaymentMethod
from portal.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import both_engines
from tests.jobs import workers
from tests.stripe_payloads import SECRETS_CONFIG, make_event, payment_method, signature

DELIVERIES = 8


@pytest.fixture
def app_overrides() -> dict:
    return {"STRIPE_WEBHOOK_SECRET": SECRETS_CONFIG, "QUEUE_URL": workers.QUEUE_URL}


@pytest.fixture
def queue():
    workers.flush_queue()
    yield
    workers.flush_queue()


@pytest.fixture
def start_workers(app, database_url, sandbox, smtp_server, queue):
    started = []
    start_workers_list = started

    def start(count: int = 2) -> None:
        env = workers.portal_env(database_url, sandbox.url, smtp_server.port)
        new = [workers.start_worker(f"w{len(started) + i}", env) for i in range(count)]
        started.extend(new)
        for worker in new:
            workers.wait_ready(worker)

    start.processes = start_workers_list
    yield start
    for worker in started:
        workers.stop(worker)


def _deliver_all_at_once(app, bodies: list[str]) -> list:
    barrier = threading.Barrier(len(bodies))

    def post(body: str):
        client = app.test_client()
        headers = {"Stripe-Signature": signature(body)}
        barrier.wait()
        return client.post("/webhooks/stripe", data=body, headers=headers, content_type="application/json")

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def _row(stripe_event_id: str) -> WebhookEvent:
    db.session.rollback()
    db.session.expire_all()
    return db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_event_id == stripe_event_id))


@both_engines
def test_the_endpoint_answers_before_applying_and_two_workers_apply_once(app, start_workers):
    event = make_event("payment_method.attached", payment_method("pm_queued", "cus_1"))

    responses = _deliver_all_at_once(app, [json.dumps(event)] * DELIVERIES)

    # Stored and enqueued, not applied: no worker runs yet.
    assert [(r.status_code, r.json["outcome"]) for r in responses] == [(200, "queued")] * DELIVERIES
    assert _row(event["id"]).status == EventStatus.RECEIVED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentMethod)) == 0

    start_workers(2)  # 8 jobs for one event, 2 worker processes of 4 threads each
    workers.wait_until(lambda: _row(event["id"]).status == EventStatus.PROCESSED, what="the event applied")
    workers.wait_until(lambda: int(workers.redis.Redis.from_url(workers.QUEUE_URL).llen("celery")) == 0)
    row = _row(event["id"])
    assert row.attempts == 1  # claimed once: the other 7 jobs found nothing to claim
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentMethod)) == 1


def test_with_json_logs_a_worker_logs_the_event_it_applies_under_the_delivery_request_id(
    app, start_workers, database_url, sandbox, smtp_server
):
    """Attack 19 A9: the workers wrote Celery's text lines, with no request id linking them to the
    webhook delivery that queued the work."""
    event = make_event("payment_method.attached", payment_method("pm_logged", "cus_1"))
    body = json.dumps(event)
    client = app.test_client()
    headers = {"Stripe-Signature": signature(body)}
    answer = client.post("/webhooks/stripe", data=body, headers=headers, content_type="application/json")
    assert answer.json["outcome"] == "queued"
    delivery_id = answer.headers["X-Request-ID"]
    env = workers.portal_env(database_url, sandbox.url, smtp_server.port, LOG_FORMAT="json")
    worker = workers.start_worker("jsonlog", env)
    start_workers.processes.append(worker)
    workers.wait_ready(worker)
    workers.wait_until(lambda: _row(event["id"]).status == EventStatus.PROCESSED, what="the event applied")

    def applied_line() -> dict | None:
        for line in list(worker.lines):
            record = json.loads(line) if line.startswith("{") else {"message": ""}
            if event["id"] in record["message"] and "outcome=processed" in record["message"]:
                return record
        return None

    workers.wait_until(lambda: applied_line() is not None, what="the worker's JSON line")
    assert applied_line()["request_id"] == delivery_id
    # Celery's own records are JSON lines too ("... ready."), none in its "[time: LEVEL/Process]" text.
    assert any(line.startswith("{") and " ready." in line for line in worker.lines)
    assert not [line for line in worker.lines if line.startswith("[") and "/MainProcess]" in line]


def _charge_refunded(sandbox) -> dict:
    """A ``charge.refunded`` of a real charge: its handler reads the charge's refunds from Stripe."""
    client = sandbox.client()
    intent = client.v1.payment_intents.create(
        {"amount": 1500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    return make_event("charge.refunded", {"id": intent.latest_charge, "object": "charge"})


def _queued(app, event: dict) -> None:
    body = json.dumps(event)
    headers = {"Stripe-Signature": signature(body)}
    answer = app.test_client().post(
        "/webhooks/stripe", data=body, headers=headers, content_type="application/json"
    )
    assert answer.json["outcome"] == "queued"


def test_a_webhook_job_that_fails_once_is_applied_on_its_retry(app, start_workers, sandbox):
    """Attack 19 A11: Celery refused the retry of a job a request had queued (its ``base_url``), so
    an event that failed once (Stripe down for a moment) stayed failed, in no list."""
    event = _charge_refunded(sandbox)
    sandbox.outage(True)
    _queued(app, event)
    start_workers(1)
    workers.wait_until(lambda: _row(event["id"]).status == EventStatus.FAILED, what="the first try failed")
    sandbox.outage(False)
    workers.wait_until(lambda: _row(event["id"]).status == EventStatus.PROCESSED, what="applied on a retry")
    assert _row(event["id"]).attempts >= 2


def test_a_webhook_job_failing_every_retry_lands_on_the_admin_page(app, start_workers, sandbox):
    from portal.jobs.models import FailedJob

    event = _charge_refunded(sandbox)
    with sandbox.outage():
        _queued(app, event)
        start_workers(1)

        def landed() -> FailedJob | None:
            db.session.rollback()
            return db.session.scalar(sa.select(FailedJob))

        workers.wait_until(lambda: landed() is not None, what="the job failed for good")
    job = landed()
    assert job.task_name == "portal.jobs.process_webhook_event" and job.attempts == 3  # JOB_MAX_RETRIES=2
    assert _row(event["id"]).status == EventStatus.FAILED


def test_emails_a_request_queues_are_sent_by_a_worker(app, logged_in, user, start_workers, mailbox):
    start_workers(1)
    token = _csrf(logged_in, "/account")
    response = logged_in.post("/account/verify-email", data={"csrf_token": token})
    assert response.status_code == 302
    message = mailbox.wait_for(user.email, "Confirm your email", timeout=30)
    assert message is not None
    [worker] = start_workers.processes
    workers.wait_until(
        lambda: any("portal.jobs.send_emails" in line and "succeeded" in line for line in worker.lines),
        what="the worker's send_emails job",
    )
    db.session.expire_all()
    unsent = sa.select(sa.func.count()).select_from(OutboundEmail).where(OutboundEmail.sent_at.is_(None))
    assert db.session.scalar(unsent) == 0


def test_readiness_checks_the_broker_and_the_scrape_reads_the_queue(app, client, queue):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["checks"]["queue"] == "ok"
    text = client.get("/metrics").get_data(as_text=True)
    assert "portal_queue_depth 0.0" in text and "portal_failed_jobs 0.0" in text


def test_retry_sends_the_job_to_the_workers_and_says_so(app, auth, user_factory, queue):
    """In queue mode Retry runs nothing in the admin's request: the job waits in the queue for a
    worker (none is running here), and the page says it was sent to them."""
    from portal.jobs.models import FailedJob
    from portal.users.models import Role

    job = FailedJob(
        task_id="t-1",
        task_name="portal.jobs.send_emails",
        args="[]",
        error="ConnectionRefusedError: down",
        attempts=6,
        failed_at=db.func.now(),
    )
    db.session.add(job)
    db.session.commit()
    admin = user_factory(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)
    auth.login(admin.email)
    token = _csrf(auth.client, "/admin/jobs")
    response = auth.client.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": token})
    page = auth.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "sent to the workers" in page
    assert workers.redis.Redis.from_url(workers.QUEUE_URL).llen("celery") == 1


def _csrf(client, path: str) -> str:
    from tests.conftest import extract_csrf

    return extract_csrf(client.get(path).get_data(as_text=True))


def test_a_broker_that_never_answers_costs_a_webhook_an_error_not_a_thread(tmp_path, sandbox):
    """Attack 19 A14: with a Redis that accepts and never answers, each delivery held its web thread
    for ever (17 of them took every page of the host down). Now the enqueue gives up: the delivery
    gets an error (Stripe sends it again) and its event stays stored for that redelivery."""
    from tests.gateway.hung_stripe import HungStripe

    with HungStripe() as hung:
        redis_url = hung.url.replace("http://", "redis://") + "/0"
        app = create_app(
            "testing",
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'hung.sqlite'}",
            STRIPE_API_BASE=sandbox.url,
            STRIPE_WEBHOOK_SECRET=SECRETS_CONFIG,
            QUEUE_URL=redis_url,
            PROPAGATE_EXCEPTIONS=False,  # as served: an error is a 500 answer
        )
        with app.app_context():
            db.create_all()
        event = make_event("payment_method.attached", payment_method("pm_hung_broker", "cus_1"))
        body = json.dumps(event)
        answers = []

        def deliver() -> None:
            with app.app_context():
                client = app.test_client()
                headers = {"Stripe-Signature": signature(body)}
                answers.append(
                    client.post(
                        "/webhooks/stripe", data=body, headers=headers, content_type="application/json"
                    )
                )

        delivery = threading.Thread(target=deliver, daemon=True)
        delivery.start()
        delivery.join(timeout=60)  # not a speed target: before, it never ended
        assert not delivery.is_alive() and hung.connections >= 1
        assert answers[0].status_code >= 500
        with app.app_context():
            row = db.session.scalar(
                sa.select(WebhookEvent).where(WebhookEvent.stripe_event_id == event["id"])
            )
            assert row is not None and row.status == EventStatus.RECEIVED


def test_make_runs_worker_with_beat_starts_on_the_local_broker(database_url, sandbox, smtp_server, tmp_path):
    """Recheck R1: Redis's transport options given to ``make run``'s SQL broker killed its worker at
    start (``create_engine`` refused them), and with it every scheduled job. Its command, as the
    Makefile has it, must come up and stay up."""
    env = workers.portal_env(database_url, sandbox.url, smtp_server.port)
    env.pop("QUEUE_URL")
    env["QUEUE_LOCAL_BROKER"] = f"sqla+sqlite:///{tmp_path / 'queue.sqlite'}"
    command = [sys.executable, "-m", "celery", "-A", "worker:celery", "worker", "--beat", "--pool", "solo"]
    command += ["--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"]
    worker = workers.start(command, env)
    try:
        workers.wait_ready(worker)
        assert worker.poll() is None, "".join(worker.lines[-40:])
    finally:
        workers.stop(worker)
