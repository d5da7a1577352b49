"""The renewal storm: N subscribed practices renew in one sandbox clock step.

Seeding is direct (in-process, no webhooks): the sandbox runs in this process on the stack's
sandbox file with no webhook URL, each practice gets a customer, a card and a monthly subscription
(its first invoice, with the onboarding fee, paid), and the portal's rows are written by its own
mirror functions from those objects. Then the stack starts on the same files (the sandbox as its
own process, delivering to a gunicorn-served portal) and the clock moves to a day after the
seeded renewal (the notices a day before it unmeasured): every subscription renews at once and the sandbox delivers the events, ``DELIVERY_CONCURRENCY`` in
flight at once, as Stripe sends an endpoint several at a time.

Figures: the webhook endpoint's answer time (p99, from gunicorn's access log: the server's time,
not the sandbox's), events applied per second (delivered events over the delivery time) against
the bare verify-and-insert endpoint fed the same events by as many clients, the non-2xx answers, and
the drift ``flask billing reconcile`` finds afterwards (events of the storm missing from the inbox
plus differences between the portal and the sandbox).

``--queue``: the same with ``QUEUE_URL`` naming Redis (db 7) and the queue's workers started, if
the portal has a job queue (``portal/jobs``); else "not measured: no queue" is printed, no figure.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.harness import PYTHON, ROOT, Figure, Stack, fresh_postgres_database, postgres_given
from stripe_sandbox.delivery import sign_payload

SECRET = "whsec_bench"
QUEUE_URL = "redis://127.0.0.1:6379/7"
#: The queue's worker command (``BENCH_QUEUE_WORKER`` overrides it); used only when ``portal/jobs`` exists.
QUEUE_WORKER = os.environ.get(
    "BENCH_QUEUE_WORKER",
    f"{PYTHON} -m celery -A worker:celery worker --pool threads --concurrency 8 --loglevel WARNING",
)
#: Deliveries in flight at once (``BENCH_STORM_DELIVERY_CONCURRENCY``): one at a time, the storm's
#: 100,000 events at 10,000 practices were hours of round trips whatever the portal did with them.
DELIVERY_CONCURRENCY = int(os.environ.get("BENCH_STORM_DELIVERY_CONCURRENCY", "8"))
DAY = 24 * 3600
#: The access log line gunicorn writes per request: path, status, microseconds.
ACCESS_FORMAT = "%(U)s %(s)s %(D)s"


def queue_supported() -> bool:
    return (ROOT / "portal" / "jobs").is_dir()


def storm(run) -> Iterator[Figure]:
    # Issue 19 asks for 10,000: BENCH_STORM_PRACTICES=10000 (27 minutes in queue mode on the 2-core
    # machine with PostgreSQL, seeding included; bench/README.md).
    # BENCH_STORM_QUEUE_ONLY=1 with --queue measures queue mode alone.
    practices = 200 if run.quick else int(os.environ.get("BENCH_STORM_PRACTICES", "1000"))
    queue_only = getattr(run, "queue", False) and os.environ.get("BENCH_STORM_QUEUE_ONLY") == "1"
    if not queue_only:
        yield from _storm(practices, queue=False, quick=run.quick)
    if getattr(run, "queue", False):
        if not queue_supported():
            print("NOT MEASURED storm.queue.*: no queue (the portal has no portal/jobs)", flush=True)
            return
        yield from _storm(practices, queue=True, quick=run.quick)


def _storm(practices: int, *, queue: bool, quick: bool) -> Iterator[Figure]:
    prefix = "storm.queue" if queue else "storm"
    with tempfile.TemporaryDirectory(prefix="portal-storm-") as tmp:
        workdir = Path(tmp)
        # PostgreSQL when the bench is given one: two web workers and two queue workers of 8
        # threads write at once, which is what the distributed mode runs on.
        if postgres_given():
            database_url = fresh_postgres_database("portal_storm")
        else:
            database_url = f"sqlite:///{workdir / 'portal.sqlite'}"
        extra = {
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "SANDBOX_RATE_LIMIT": "0",  # reconcile reads 10,000 customers; the limit is not measured here
            "SANDBOX_DELIVERY_CONCURRENCY": str(DELIVERY_CONCURRENCY),
            "GUNICORN_ACCESS_LOG": str(workdir / "access.log"),
            "GUNICORN_CMD_ARGS": f"--access-logformat {shlex.quote(ACCESS_FORMAT)}",
        }
        if queue:
            extra["QUEUE_URL"] = QUEUE_URL
        stack = Stack(database_url, workdir, extra)
        started = time.perf_counter()
        _migrate(database_url)
        renewal = seed_subscribed_practices(stack, practices)
        seconds = time.perf_counter() - started
        engine = database_url.split(":", 1)[0].split("+")[0]
        print(f"  seeded {practices} subscribed practices in {seconds:.1f} s ({engine})", flush=True)
        try:
            stack.start()
            if queue:
                _start_workers(stack)
            yield from _measure(stack, practices, prefix, quick, renewal, queue=queue)
        finally:
            stack.stop()


def _migrate(database_url: str) -> None:
    env = {
        **os.environ,
        "FLASK_APP": "bench.wsgi:app",
        "PORTAL_ENV": "development",
        "DATABASE_URL": database_url,
    }
    upgrade = [PYTHON, "-m", "flask", "db", "upgrade"]
    subprocess.run(upgrade, cwd=ROOT, env=env, check=True, capture_output=True)


def _start_workers(stack: Stack) -> None:
    for _ in range(2):
        process = stack._spawn(shlex.split(QUEUE_WORKER), stack.env)
        time.sleep(1)
        if process.poll() is not None:
            raise RuntimeError(f"the queue worker ({QUEUE_WORKER}) exited: see {stack.workdir}")


def seed_subscribed_practices(stack: Stack, count: int) -> int:
    """``count`` practices paying monthly, in the sandbox and in the portal, without one webhook;
    when the last of them renews (a month on, by the calendar: 28 to 31 days)."""
    from stripe_sandbox.testing import SandboxServer

    sandbox = SandboxServer(str(stack.workdir / "sandbox.sqlite"), webhook_url=None, rate_limit=False)
    sandbox.start()
    try:
        return _seed(stack, sandbox, count)
    finally:
        sandbox.stop()


def _seed(stack: Stack, sandbox, count: int) -> int:
    import sqlalchemy as sa

    from bench.data import PASSWORD
    from portal import create_app
    from portal.auth import services as accounts
    from portal.extensions import db
    from portal.practices import invoice_mirror, plans
    from portal.practices import mirror as practice_mirror
    from portal.practices.models import MemberRole, Plan, Practice, PracticeMember
    from portal.wallet import mirror as wallet_mirror

    client = sandbox.client()
    app = create_app("development", SQLALCHEMY_DATABASE_URI=stack.database_url, STRIPE_API_BASE=sandbox.url)
    with app.app_context():
        plans.bootstrap_plans()
        monthly = plans.price_id(Plan.MONTHLY.lookup_key)
        onboarding = plans.price_id(plans.ONBOARDING_LOOKUP_KEY)
        renewal = 0
        owner = accounts.register_user("Storm Owner", "storm-owner@example.com", PASSWORD, verified=True)
        for start in range(0, count, 500):
            numbers = range(start, min(count, start + 500))
            batch = [Practice(name=f"Storm Clinic {n}", timezone="UTC") for n in numbers]
            db.session.add_all(batch)
            db.session.flush()
            db.session.add_all(
                PracticeMember(practice_id=p.id, user_id=owner.id, role=MemberRole.OWNER) for p in batch
            )
            for practice in batch:
                metadata = {"practiceId": str(practice.id)}
                customer = client.v1.customers.create(
                    {"name": practice.name, "email": f"storm-{practice.id}@example.com", "metadata": metadata}
                )
                card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
                client.v1.customers.update(
                    customer.id, {"invoice_settings": {"default_payment_method": card.id}}
                )
                subscription = client.v1.subscriptions.create(
                    {
                        "customer": customer.id,
                        "items": [{"price": monthly}],
                        "add_invoice_items": [{"price": onboarding}],
                        "metadata": metadata,
                    }
                )
                invoice = client.v1.invoices.retrieve(subscription.latest_invoice)
                renewal = max(renewal, subscription["items"].data[0].current_period_end)
                now = int(time.time()) + 1
                practice.stripe_customer_id = customer.id
                db.session.flush()
                wallet_mirror.upsert_payment_method(card, now)
                wallet_mirror.set_default_payment_method(customer.id, card.id, now)
                practice_mirror.apply_subscription(subscription, now, fresh=True)
                invoice_mirror.record_invoice(invoice, now)
            db.session.commit()
        states = dict(
            db.session.execute(
                sa.select(Practice.billing_status, sa.func.count()).group_by(Practice.billing_status)
            ).all()
        )
        print(f"  portal billing states after seeding: {states}", flush=True)
        db.session.remove()
        db.engine.dispose()
    return renewal


def _measure(
    stack: Stack, practices: int, prefix: str, quick: bool, renewal: int, *, queue: bool = False
) -> Iterator[Figure]:
    # First to a day before the renewals, unmeasured: the sandbox sends each subscription's
    # invoice.upcoming a few days ahead, as Stripe does, so the measured step is the renewals alone
    # (each renewal, its draft finalized an hour later and paid: two clock actions a practice), to a
    # day after them. A month is 28 to 31 days, so the steps follow the seeded renewal, not a count.
    seeded = stack.sandbox_control_get("clock")["now"]
    stack.sandbox_control("clock/advance", {"to": renewal - DAY, "flush": False}, timeout=3600)
    before = _deliver_all(stack)
    if queue:
        _wait_until_applied(stack.database_url)
    log = stack.workdir / "access.log"
    skip = len(log.read_text().splitlines())
    since = stack.sandbox_control_get("clock")["now"]
    started = time.perf_counter()
    stack.sandbox_control("clock/advance", {"to": renewal + DAY, "flush": False}, timeout=3600)
    advanced = time.perf_counter()
    delivery = _deliver_all(stack)
    done = time.perf_counter()
    events = _storm_events(stack, since)
    delivered = len(events)
    print(
        f"  {practices} renewals: the clock step took {advanced - started:.1f} s, "
        f"{delivered} events delivered in {done - advanced:.1f} s ({delivery})",
        flush=True,
    )
    if queue:
        # Answered is not applied: the workers may still be running handlers. Applied per second
        # counts until the inbox has none left to run.
        left = _wait_until_applied(stack.database_url)
        done = time.perf_counter()
        print(f"  queue drained {done - advanced:.1f} s after the step ({left} failed handlers)", flush=True)
    rate = delivered / (done - advanced)
    answers = _webhook_answers(log, "/webhooks/stripe", skip)
    non_2xx = sum(1 for status, _ in answers if not 200 <= status < 300)
    p99 = _p99([ms for _, ms in answers])

    sample = events if quick else events[:5000]
    baseline = _bare_rate(stack, sample)
    print(
        f"  bare verify-and-insert, same events, {DELIVERY_CONCURRENCY} clients: {baseline:.1f} events/s",
        flush=True,
    )

    drift = _drift(stack, seeded)  # the notices' events too
    yield Figure(f"{prefix}.webhook_p99_ms", p99, "ms", ">=", 0)
    yield Figure(f"{prefix}.events_per_s", rate, "events/s", ">=", 0)
    yield Figure(f"{prefix}.events_per_s_over_bare", rate / baseline, "x", ">=", 0)
    failed = delivery["failed"] - before["failed"]
    yield Figure(f"{prefix}.non_2xx", non_2xx + failed, "responses", "<=", 0)
    yield Figure(f"{prefix}.drift_after", drift, "differences", "<=", 0)


def _deliver_all(stack: Stack) -> dict:
    """Wait until the sandbox has delivered everything queued; its delivery counters."""
    while True:
        delivery = stack.sandbox_control("events/flush", {"timeout": 60}, timeout=90)
        if not delivery["pending"]:
            return delivery


def _wait_until_applied(database_url: str, timeout: float = 7200) -> int:
    """Wait until the inbox holds no event still to run (``received``); how many failed."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    query = sa.text("SELECT status, count(*) FROM webhook_events GROUP BY status")
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                counts = dict(conn.execute(query).all())
            if not counts.get("received") or time.monotonic() > deadline:
                return counts.get("failed", 0)
            time.sleep(0.5)
    finally:
        engine.dispose()


def _storm_events(stack: Stack, since: int) -> list[dict]:
    response = requests.get(f"{stack.sandbox_url}/_sandbox/events", params={"since": since}, timeout=600)
    response.raise_for_status()
    return [event for event in response.json()["data"] if event["created"] >= since]


def _webhook_answers(log: Path, path: str, skip: int = 0) -> list[tuple[int, float]]:
    """(status, ms) of each request to ``path`` in the access log, past its first ``skip`` lines."""
    answers = []
    for line in log.read_text().splitlines()[skip:]:
        parts = line.split()
        if len(parts) == 3 and parts[0] == path:
            answers.append((int(parts[1]), int(parts[2]) / 1000))
    return answers


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[-1] if len(values) > 1 else (values[0] if values else 0.0)


def _bare_rate(stack: Stack, events: list[dict]) -> float:
    """The same events, signed, POSTed to verify-and-insert by as many clients as the sandbox's
    deliveries in flight."""
    url = f"{stack.portal_url}/_bench/webhook"
    local = threading.local()

    def post(event: dict) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        payload = json.dumps(event, indent=2)
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(payload, SECRET)}
        session.post(url, data=payload.encode(), headers=headers, timeout=30).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(DELIVERY_CONCURRENCY) as clients:
        list(clients.map(post, events))
    return len(events) / (time.perf_counter() - started)


def _drift(stack: Stack, since: int) -> int:
    """Events of the storm missing from the inbox plus the differences reconcile reports."""
    output = stack.flask("billing", "reconcile", "--since", str(since))
    tail = output.strip().splitlines()[-1]
    print(f"  reconcile: {tail}", flush=True)
    if tail.startswith("no drift"):
        return 0
    found = re.search(r"(\d+) differences in .*?; (\d+) events missing", tail)
    if found is None:
        raise RuntimeError(f"unexpected reconcile output: {output[-2000:]}")
    return int(found.group(1)) + int(found.group(2))
