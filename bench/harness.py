"""Servers and measurements shared by the benchmarks.

The portal runs under gunicorn (2 workers) as a separate process, the sandbox as another, and the
load comes from a third (``bench.load``), all on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.load import USER_AGENT

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    op: str  # ">=", "<=", or "in" (between ``low`` and ``target``)
    target: float
    low: float | None = None

    @property
    def passed(self) -> bool:
        if self.op == "in":
            return self.low <= self.value <= self.target
        return self.value >= self.target if self.op == ">=" else self.value <= self.target

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        target = f"{self.low}-{self.target}" if self.op == "in" else self.target
        return f"FIGURE {self.name} {self.value:.3f} {self.unit} target {self.op} {target} {verdict}"


@dataclass
class Stack:
    """A sandbox and a gunicorn-served portal sharing one database."""

    database_url: str
    workdir: Path
    extra_env: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    portal_url: str = ""
    #: Set before ``start``: the portal uses this sandbox (already running) instead of starting one.
    sandbox_url: str = ""

    def _spawn(self, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.workdir / f"{len(self.processes)}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)
        return process

    def start(self) -> Stack:
        shared_sandbox = bool(self.sandbox_url)
        sandbox_port, portal_port = free_port(), free_port()
        if not shared_sandbox:
            self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.portal_url = f"http://127.0.0.1:{portal_port}"
        self.env = {
            **os.environ,
            "FLASK_APP": "bench.wsgi:app",
            "PORTAL_ENV": "development",
            "DATABASE_URL": self.database_url,
            "STRIPE_API_BASE": self.sandbox_url,
            "SECRET_KEY": "bench-secret",
            "LOGIN_THROTTLE": "100000 per minute",
            "LOGIN_EMAIL_THROTTLE": "100000 per minute",
            "RESET_THROTTLE": "100000 per minute",
            "RESET_EMAIL_THROTTLE": "100000 per minute",
            "SANDBOX_DATABASE": str(self.workdir / "sandbox.sqlite"),
            # gunicorn reads the project's gunicorn.conf.py by itself (make run's threads); no access log.
            "GUNICORN_ACCESS_LOG": "",
            **self.extra_env,
        }
        self.env.pop("STRIPE_SECRET_KEY", None)
        subprocess.run(
            [PYTHON, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=self.env, check=True, capture_output=True
        )
        if not shared_sandbox:
            self._spawn(
                [
                    PYTHON,
                    "-m",
                    "stripe_sandbox",
                    "run",
                    "--port",
                    str(sandbox_port),
                    "--database",
                    str(self.workdir / "sandbox.sqlite"),
                    "--webhook-url",
                    f"{self.portal_url}/webhooks/stripe",
                ],
                self.env,
            )
        wait_for(f"{self.sandbox_url}/_sandbox/health")
        self._spawn(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "--bind",
                f"127.0.0.1:{portal_port}",
                "--workers",
                "2",
                "--log-level",
                "warning",
                "bench.wsgi:app",
            ],
            self.env,
        )
        wait_for(f"{self.portal_url}/healthz")
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self.processes.clear()

    def flask(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "-m", "flask", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        return done.stdout

    def sandbox_control(self, path: str, payload: dict, timeout: float = 10) -> dict:
        response = requests.post(f"{self.sandbox_url}/_sandbox/{path}", json=payload, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def sandbox_control_get(self, path: str) -> dict:
        response = requests.get(f"{self.sandbox_url}/_sandbox/{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def settle_webhooks(self) -> None:
        """Wait until the sandbox has delivered every event the seeding caused.

        Otherwise a late delivery (whose handler may call Stripe) lands in a measured run.
        Twice: a handler's own Stripe calls can queue more events.
        """
        for _ in range(2):
            self.sandbox_control("events/flush", {"timeout": 60}, timeout=90)
            time.sleep(0.2)

    def login(self, email: str, password: str) -> str:
        """A logged-in session cookie header for the load generator, as a browser holds it."""
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT  # the generator's too, as one browser's would be
        page = session.get(f"{self.portal_url}/login").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        response = session.post(
            f"{self.portal_url}/login",
            data={"email": email, "password": password, "csrf_token": token},
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]
        # The generator replays this one cookie. A browser keeps what the first page after login
        # adds to its session (the CSRF token its forms carry); replaying the cookie from before
        # that would have every measured page set it up again.
        session.get(f"{self.portal_url}/account").raise_for_status()
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        # Steady state: a page loaded with this cookie changes nothing in it, so measured pages do
        # not pay for signing a new cookie that a browser would store once and a replay never does.
        again = session.get(f"{self.portal_url}/account", timeout=30)
        again.raise_for_status()
        assert "Set-Cookie" not in again.headers, f"the replayed session still changes: {again.headers}"
        return cookie


@contextlib.contextmanager
def running_stack(database_url: str | None = None, **extra_env: str) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        workdir = Path(tmp)
        stack = Stack(database_url or f"sqlite:///{workdir / 'portal.sqlite'}", workdir, extra_env)
        try:
            yield stack.start()
            _report_sandbox_requests(stack)
        finally:
            stack.stop()


def _report_sandbox_requests(stack: Stack) -> None:
    """What the sandbox (strict mode and Stripe's rate limit on) saw: calls, 429s retried, rejections."""
    seen = requests.get(f"{stack.sandbox_url}/_sandbox/requests", timeout=10).json()
    print(
        f"# sandbox: {seen['calls']} Stripe calls to {len(seen['endpoints'])} endpoints, "
        f"rate limited (429, retried) {seen['rate_limited']}, rejected {len(seen['rejected'])}",
        flush=True,
    )


def load(
    url: str,
    *,
    connections: int,
    requests_: int,
    seconds: float,
    cookie: str | None = None,
    webhook_secret: str | None = None,
    headers: dict | None = None,
    latencies: bool = False,
) -> dict:
    """One URL under load from a separate process; its throughput and latency percentiles."""
    return _run_load(
        [url], [headers or {}], connections, requests_, seconds, cookie, webhook_secret, latencies
    )


def compare(
    first: str,
    second: str,
    *,
    connections: int,
    requests_: int,
    seconds: float,
    cookie: str | None = None,
    webhook_secret: str | None = None,
    first_headers: dict | None = None,
    second_headers: dict | None = None,
    latencies: bool = False,
    turn_seconds: float = 0.4,
    before_first: tuple[str, dict] | None = None,
    before_second: tuple[str, dict] | None = None,
    round_index: int = 0,
) -> tuple[dict, dict]:
    """Two URLs loaded in turns (every connection drained between turns) by one generator, so
    their ratio is measured in one run: a machine that slows down for a while slows both alike.

    ``before_first``/``before_second`` = (url, json) is POSTed before each turn of that side.
    The side loaded first meets connections not yet served; it alternates with ``round_index``
    (the round of a series this run is), so neither side always pays for that.
    """
    extra = ["--turn-seconds", str(turn_seconds), "--first-turn", str(round_index % 2)]
    for index, hook in enumerate((before_first, before_second)):
        if hook is not None:
            extra += ["--on-turn", str(index), hook[0], json.dumps(hook[1])]
    result = _run_load(
        [first, second],
        [first_headers or {}, second_headers or {}],
        connections,
        requests_,
        seconds,
        cookie,
        webhook_secret,
        latencies,
        extra,
    )
    return result["targets"][0], result["targets"][1]


def _run_load(
    urls: list[str],
    headers: list[dict],
    connections: int,
    requests_: int,
    seconds: float,
    cookie: str | None,
    webhook_secret: str | None,
    latencies: bool,
    extra: list[str] | None = None,
) -> dict:
    args = [PYTHON, "-m", "bench.load", *urls, *(extra or [])]
    args += ["--connections", str(connections), "--requests", str(requests_), "--seconds", str(seconds)]
    if cookie:
        args += ["--header", f"Cookie: {cookie}"]
    for index, extra in enumerate(headers):
        for name, value in extra.items():
            args += ["--header-for", str(index), f"{name}: {value}"]
    if webhook_secret:
        args += ["--webhook-secret", webhook_secret]
    if latencies:
        args.append("--latencies")
    done = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh_postgres_database(name: str) -> str:
    """A new, empty PostgreSQL database ``name`` on the server ``BENCH_POSTGRES_URL`` (or
    ``TEST_DATABASE_URL``) names; its URL."""
    import sqlalchemy as sa

    url = sa.engine.make_url(os.environ.get("BENCH_POSTGRES_URL") or os.environ["TEST_DATABASE_URL"]).set(
        drivername="postgresql+psycopg"
    )
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def postgres_given() -> bool:
    return bool(os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL"))
