"""``make run-distributed``'s pieces (the Procfile under honcho): two portal hosts, two workers and
the scheduler on PostgreSQL and Redis. An event delivered to host A and its duplicates to host B,
all at once, is applied once."""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.jobs.distributed import ensure_database
from portal.practices.models import Practice
from portal.wallet.models import PaymentMethod
from portal.webhooks.models import EventStatus, WebhookEvent
from tests.jobs import workers
from tests.operations.scrape import value
from tests.smtp import free_port
from tests.stripe_payloads import SECRETS_CONFIG, make_event, payment_method, signature

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs the machine's PostgreSQL (TEST_DATABASE_URL)"
)

DELIVERIES = 8


@pytest.fixture
def database_url() -> str:
    url = sa.engine.make_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    url = url.set(database="portal_test_q").render_as_string(hide_password=False)
    ensure_database(url)
    return url


@pytest.fixture
def app_overrides() -> dict:
    return {"STRIPE_WEBHOOK_SECRET": SECRETS_CONFIG, "QUEUE_URL": workers.QUEUE_URL}


@pytest.fixture
def hosts(app, database_url, sandbox, smtp_server, tmp_path):
    """(port A, port B) of the two portal hosts, with the workers and beat running."""
    workers.flush_queue()
    port_a, port_b = free_port(), free_port()
    env = workers.portal_env(
        database_url,
        sandbox.url,
        smtp_server.port,
        PORT_A=str(port_a),
        PORT_B=str(port_b),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="8",
        GUNICORN_ACCESS_LOG="",
        METRICS_DIR=str(tmp_path / "metrics"),
    )
    command = [sys.executable, "-m", "honcho", "start", "-f", "Procfile"]
    honcho = workers.start([*command, "web_a", "web_b", "worker_1", "worker_2", "beat"], env)
    try:
        for port in (port_a, port_b):
            workers.wait_until(lambda port=port: _answers(port), timeout=60, what=f"port {port}")
        workers.wait_until(
            lambda: sum(" ready." in line for line in honcho.lines) >= 2, timeout=60, what="two workers"
        )
        yield port_a, port_b
    finally:
        workers.stop(honcho)
        workers.flush_queue()


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:  # not listening yet, or still loading the app
        return False


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def _post(port: int, body: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/stripe",
        data=body.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": signature(body)},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status, json.loads(response.read())


def _login_status(port: int, email: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/auth/login",
        data=json.dumps({"email": email, "password": "wrong-password-1"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_duplicate_on_the_other_host_is_applied_once(app, hosts):
    port_a, port_b = hosts
    event = make_event("payment_method.attached", payment_method("pm_two_hosts", "cus_1"))
    body = json.dumps(event)
    ports = [port_a, port_b] * (DELIVERIES // 2)  # spread over both hosts
    barrier = threading.Barrier(DELIVERIES)

    def deliver(port: int):
        barrier.wait()
        return _post(port, body)

    with ThreadPoolExecutor(DELIVERIES) as pool:
        answers = list(pool.map(deliver, ports))

    assert [status for status, _ in answers] == [200] * DELIVERIES
    assert {answer["outcome"] for _, answer in answers} == {"queued"}

    def row() -> WebhookEvent | None:
        db.session.rollback()
        db.session.expire_all()
        return db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_event_id == event["id"]))

    workers.wait_until(lambda: row() is not None and row().status == EventStatus.PROCESSED, what="applied")
    queue = workers.redis.Redis.from_url(workers.QUEUE_URL)
    workers.wait_until(lambda: queue.llen("celery") == 0, what="the queue drained")
    assert row().attempts == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentMethod)) == 1

    # Each host's scrape counts what its web process queued and what its worker applied (attack 19:
    # the workers counted in memory no scrape read); the two hosts together: 8 queued, 1 applied.
    def counted(outcome: str) -> float:
        return sum(
            value(_scrape(port), "portal_webhook_events_total", type=event["type"], outcome=outcome)
            for port in (port_a, port_b)
        )

    assert counted("queued") == DELIVERIES
    assert counted("applied") == 1


def test_failed_logins_are_counted_across_both_hosts(app, hosts):
    """LOGIN_THROTTLE (5 a minute per address) holds for the two hosts together."""
    port_a, port_b = hosts
    statuses = [_login_status(port, "nobody@example.com") for port in [port_a, port_b] * 3]
    assert statuses == [401] * 5 + [429]


@pytest.fixture(scope="module")
def sandbox():
    """A sandbox of this module's own (the checkout race empties it: the shared one keeps every event)."""
    from stripe_sandbox.testing import SandboxServer
    from tests.strict_calls import check_no_rejections

    with SandboxServer(webhook_url=None) as server:
        yield server
        check_no_rejections("two hosts (its own sandbox)", server.requests_seen())


def _all_applied() -> bool:
    db.session.rollback()
    waiting = sa.select(sa.func.count()).where(WebhookEvent.status == EventStatus.RECEIVED)
    queue = workers.redis.Redis.from_url(workers.QUEUE_URL)
    return queue.llen("celery") == 0 and not db.session.scalar(waiting)


def test_two_checkouts_at_once_on_the_two_hosts_keep_one_subscription(app, hosts, sandbox):
    """One owner in two tabs, one on each host, starts Checkout (a plan each) and pays both at once,
    Stripe's events applied by the two workers: one live subscription, one onboarding fee kept."""
    from tests.reliability.checkout_race import new_race, result
    from tests.reliability.live import Visitor

    port_a, port_b = hosts
    race = new_race(sandbox, f"http://127.0.0.1:{port_a}", 1)
    owner = db.session.get(Practice, race.practice_id).members[0].user.email
    on_b = Visitor(f"http://127.0.0.1:{port_b}", owner)
    race.forms.append(on_b.form(race.billing, "/billing/subscribe"))
    tabs = [(race.visitor, "monthly"), (on_b, "semiannual")]
    barrier = threading.Barrier(len(tabs), timeout=30)

    def start(tab: int) -> None:
        visitor, plan = tabs[tab]
        barrier.wait()
        response = visitor.post(f"{race.billing}/subscribe", {**race.forms[tab], "plan": plan})
        if response.status_code == 204:
            race.checkout_urls[tab] = response.headers["HX-Redirect"]

    with ThreadPoolExecutor(len(tabs)) as pool:
        list(pool.map(start, range(len(tabs))))
    with ThreadPoolExecutor(len(tabs)) as pool:
        list(pool.map(lambda tab: race.pay(tab, come_back=False), range(len(tabs))))
    while race.deliver(concurrently=True):  # the workers' fixes (a duplicate cancelled) make events too
        workers.wait_until(_all_applied, timeout=90, what="every event applied")

    failed = sa.select(WebhookEvent.type, WebhookEvent.last_error).where(
        WebhookEvent.status == EventStatus.FAILED
    )
    assert not db.session.execute(failed).all()
    outcome = result(race)
    assert (outcome.live, outcome.net_onboarding_fees, outcome.local_matches) == (1, 1, True), outcome
