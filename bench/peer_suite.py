"""The peer comparison: the portal's webhook endpoint and dj-stripe's, fed the same signed events.

The events are made once per run by a workload in a sandbox of their own (no webhook URL: they are
only recorded): customers with a card and a monthly subscription, some with a failing card, some
cancelling at period end, some attaching and detaching a second card, then the clock 31 days on.
Each system then gets those events, signed as the sandbox signs them, from 4 client threads, from a
fresh database, against that same sandbox (dj-stripe fetches objects from it), taking turns on
which goes first, over several rounds. dj-stripe runs in its own virtual environment
(``bench/peers/.venv``, from ``bench/peers/requirements.txt``: its Django and stripe versions are not
the portal's), served by gunicorn with 2 sync workers; the portal by gunicorn as everywhere in the
bench (2 workers, the project's gunicorn.conf.py). How dj-stripe is configured: bench/README.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from bench.harness import PYTHON, ROOT, Figure, Stack, free_port, wait_for
from stripe_sandbox.delivery import sign_payload

PEERS = ROOT / "bench" / "peers"
PEER_PYTHON = PEERS / ".venv" / "bin" / "python"
PEER_GUNICORN = PEERS / ".venv" / "bin" / "gunicorn"
SECRET = "whsec_bench"
ENDPOINT_UUID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"  # bench/peers/setup_peer.py's
CLIENTS = 4

#: The event types a webhook endpoint subscribed to billing would get (bench-peers' 12 types).
EVENT_TYPES = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.upcoming",
    "customer.updated",
    "payment_method.attached",
    "payment_method.detached",
}


def peers(run) -> Iterator[Figure]:
    if not PEER_GUNICORN.exists():
        raise RuntimeError(
            "bench/peers/.venv is missing: `make bench` makes it from bench/peers/requirements.txt"
        )
    customers = 60 if run.quick else 200
    rounds = 1 if run.quick else 3
    engines = [("sqlite", None)]
    postgres = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL")
    if postgres:
        engines.append(("postgresql", postgres))
    if os.environ.get("BENCH_PEER_ENGINES"):  # e.g. "postgresql": only those
        engines = [e for e in engines if e[0] in os.environ["BENCH_PEER_ENGINES"].split(",")]
    with tempfile.TemporaryDirectory(prefix="portal-peers-") as tmp:
        workdir = Path(tmp)
        sandbox = _start_sandbox(workdir)
        try:
            sandbox_url = sandbox[1]
            events = record_events(sandbox_url, customers)
            kinds = len({event["type"] for event in events})
            print(f"  recorded {len(events)} events of {kinds} types from {customers} customers", flush=True)
            for engine, admin_url in engines:
                yield from _compare(engine, admin_url, events, rounds, sandbox_url, workdir)
        finally:
            sandbox[0].terminate()
            sandbox[0].wait(timeout=10)


def _start_sandbox(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(workdir / "sandbox.log", "w")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "stripe_sandbox",
            "run",
            "--port",
            str(port),
            "--database",
            str(workdir / "sandbox.sqlite"),
            "--webhook-url",
            "none",
            "--no-rate-limit",  # dj-stripe's calls on its own would pass 25/s; the limit is not compared
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/_sandbox/health")
    return process, url


def record_events(sandbox_url: str, customers: int) -> list[dict]:
    """The workload (as bench-peers measured it) run in the sandbox; its events, oldest first."""
    import stripe

    client = stripe.StripeClient(
        "sk_test_sandbox", base_addresses={"api": sandbox_url}, max_network_retries=2
    )
    product = client.v1.products.create({"name": "Peer plan"})
    price = client.v1.prices.create(
        {"product": product.id, "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"}}
    )
    for n in range(customers):
        customer = client.v1.customers.create({"name": f"Peer {n}", "email": f"peer-{n}@example.com"})
        card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
        client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
        subscription = client.v1.subscriptions.create(
            {"customer": customer.id, "items": [{"price": price.id}]}
        )
        if n % 10 == 0:  # the renewal's charge fails (the card starts declining after the first payment)
            requests.post(
                f"{sandbox_url}/_sandbox/payment_methods/{card.id}/decline",
                json={"decline_code": "insufficient_funds"},
                timeout=10,
            ).raise_for_status()
        elif n % 10 == 5:
            client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
        elif n % 10 == 7:
            second = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
            client.v1.payment_methods.detach(second.id)
    requests.post(
        f"{sandbox_url}/_sandbox/clock/advance", json={"days": 31, "flush": False}, timeout=600
    ).raise_for_status()
    found = requests.get(f"{sandbox_url}/_sandbox/events", timeout=120).json()["data"]
    return [event for event in found if event["type"] in EVENT_TYPES]


def _compare(
    engine: str, admin_url: str | None, events: list[dict], rounds: int, sandbox_url: str, workdir: Path
) -> Iterator[Figure]:
    template = _peer_template(engine, admin_url, workdir, sandbox_url)
    results: dict[str, list[dict]] = {"portal": [], "djstripe": []}
    for n in range(rounds):
        order = ["portal", "djstripe"] if n % 2 == 0 else ["djstripe", "portal"]
        for system in order:
            runner = _run_portal if system == "portal" else _run_djstripe
            place = workdir / f"{engine}-{system}-{n}"
            result = runner(engine, admin_url, template, events, sandbox_url, place)
            results[system].append(result)
            print(
                f"  {engine} round {n + 1}: {system} {result['rps']:.1f} events/s, "
                f"p99 {result['p99_ms']:.1f} ms, non-2xx {result['non_2xx']}, "
                f"Stripe calls {result['stripe_calls']}",
                flush=True,
            )
    prefix = f"peers.{engine}"
    pairs = zip(results["portal"], results["djstripe"], strict=True)
    ratios = [ours["rps"] / theirs["rps"] for ours, theirs in pairs]
    yield Figure(f"{prefix}.events_per_s_over_djstripe", statistics.median(ratios), "x", ">=", 1.0)
    for system, runs in results.items():
        ours = system == "portal"
        yield Figure(
            f"{prefix}.{system}.events_per_s", statistics.median(r["rps"] for r in runs), "events/s", ">=", 0
        )
        yield Figure(f"{prefix}.{system}.p99_ms", statistics.median(r["p99_ms"] for r in runs), "ms", ">=", 0)
        # dj-stripe's failures are reported, not targeted: they are the peer's (or the sandbox's, see
        # bench/README.md), and its printed errors say which.
        failed = sum(r["non_2xx"] for r in runs)
        yield Figure(f"{prefix}.{system}.non_2xx", failed, "responses", "<=" if ours else ">=", 0)
        # The portal applies events from their payloads (0 calls); dj-stripe re-fetches each object.
        calls = sum(r["stripe_calls"] for r in runs) / (len(events) * len(runs))
        yield Figure(f"{prefix}.{system}.stripe_calls_per_event", calls, "calls", "<=" if ours else ">=", 0)


# databases ---------------------------------------------------------------------------------------


def _postgres(admin_url: str, name: str, template: str | None = None) -> str:
    """A fresh database ``name`` (a copy of ``template`` if given); its URL."""
    import sqlalchemy as sa

    url = sa.engine.make_url(admin_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _peer_env(database: str, sandbox_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "djpeer.settings",
        "PEER_DATABASE": database,
        "PEER_STRIPE_API_BASE": sandbox_url,
        "PEER_WEBHOOK_SECRET": SECRET,
    }


def _plain_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")


def _peer_template(engine: str, admin_url: str | None, workdir: Path, sandbox_url: str) -> str:
    """dj-stripe's database migrated and set up once (its 100-odd migrations take a while); each run
    starts from a copy."""
    if engine == "sqlite":
        database = str(workdir / "djstripe-template.sqlite")
    else:
        database = _plain_url(_postgres(admin_url, "djstripe_peer_template"))
    subprocess.run(
        [str(PEER_PYTHON), "setup_peer.py"],
        cwd=PEERS,
        env=_peer_env(database, sandbox_url),
        check=True,
        capture_output=True,
    )
    return database


# the two systems ---------------------------------------------------------------------------------


def _run_portal(engine, admin_url, _template, events, sandbox_url, workdir: Path) -> dict:
    workdir.mkdir()
    database = (
        f"sqlite:///{workdir / 'portal.sqlite'}"
        if engine == "sqlite"
        else _postgres(admin_url, "portal_peer")
    )
    stack = Stack(database, workdir, {"STRIPE_WEBHOOK_SECRET": SECRET}, sandbox_url=sandbox_url)
    try:
        stack.start()
        return _replay(f"{stack.portal_url}/webhooks/stripe", events, sandbox_url)
    finally:
        stack.stop()


def _run_djstripe(engine, admin_url, template, events, sandbox_url, workdir: Path) -> dict:
    workdir.mkdir()
    if engine == "sqlite":
        database = str(workdir / "djstripe.sqlite")
        shutil.copyfile(template, database)
    else:
        template_name = template.rsplit("/", 1)[1]
        database = _plain_url(_postgres(admin_url, "djstripe_peer", template=template_name))
    port = free_port()
    log = open(workdir / "gunicorn.log", "w")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [str(PEER_GUNICORN), "--workers", "2", "--bind", f"127.0.0.1:{port}", "djpeer.wsgi:application"],
        cwd=PEERS,
        env=_peer_env(database, sandbox_url),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/")
        return _replay(f"{url}/stripe/webhook/{ENDPOINT_UUID}/", events, sandbox_url)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
        _report_errors(workdir / "gunicorn.log")


def _report_errors(log: Path) -> None:
    """dj-stripe's failures by their last line (the exception), most frequent first."""
    errors: dict[str, int] = {}
    lines = log.read_text(errors="replace").splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = index + 1
            while end < len(lines) and (lines[end].startswith(" ") or lines[end].startswith("The above")):
                end += 1
            if end < len(lines):
                error = re.sub(r"\b(req|prod|cus|sub|in|pi|pm|price)_[A-Za-z0-9]+", r"\1_...", lines[end])
                error = error[:200]
                errors[error] = errors.get(error, 0) + 1
    for error, count in sorted(errors.items(), key=lambda item: -item[1])[:5]:
        print(f"  dj-stripe error x{count}: {error}", flush=True)


def _replay(url: str, events: list[dict], sandbox_url: str) -> dict:
    """Every event once, in order, from ``CLIENTS`` threads, each signed as it is sent."""
    payloads = [json.dumps(event, indent=2) for event in events]
    calls_before = _stripe_calls(sandbox_url)
    lock = threading.Lock()
    cursor = iter(payloads)
    latencies: list[float] = []
    failures: list[int] = []

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                payload = next(cursor, None)
            if payload is None:
                return
            headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(payload, SECRET)}
            sent = time.perf_counter()
            try:
                status = session.post(url, data=payload.encode(), headers=headers, timeout=60).status_code
            except requests.RequestException:
                status = 0
            took = time.perf_counter() - sent
            with lock:
                latencies.append(took)
                if not 200 <= status < 300:
                    failures.append(status)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(payloads) / seconds,
        "p99_ms": statistics.quantiles(latencies, n=100)[-1] * 1000,
        "non_2xx": len(failures),
        "stripe_calls": _stripe_calls(sandbox_url) - calls_before,
    }


def _stripe_calls(sandbox_url: str) -> int:
    return requests.get(f"{sandbox_url}/_sandbox/requests", timeout=10).json()["calls"]
