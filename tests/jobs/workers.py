"""Real Celery worker processes on the machine's Redis (db 8), for the queue-mode tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
QUEUE_URL = os.environ.get("TEST_QUEUE_URL", "redis://127.0.0.1:6379/8")


def flush_queue() -> None:
    redis.Redis.from_url(QUEUE_URL).flushdb()


def portal_env(database_url: str, sandbox_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    """The environment a worker (or a served portal) of the test's database and queue starts with.

    The development settings (testing's ignore MAIL_SERVER) with the test's SMTP server and secret."""
    from tests.stripe_payloads import SECRETS_CONFIG

    env = {key: value for key, value in os.environ.items() if not key.startswith("PROMETHEUS_")}
    env.update(
        PORTAL_ENV="development",
        SECRET_KEY="testing-secret",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        DATABASE_URL=database_url,
        QUEUE_URL=QUEUE_URL,
        STRIPE_API_BASE=sandbox_url,
        STRIPE_WEBHOOK_SECRET=SECRETS_CONFIG,
        JOB_MAX_RETRIES="2",
        JOB_RETRY_BACKOFF_MAX_SECONDS="1",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def start_worker(name: str, env: dict[str, str], concurrency: int = 4) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "worker:celery", "worker", "--pool", "threads"]
    command += ["--concurrency", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return start(command, env)


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A process whose output a thread keeps reading (``process.lines``): its pipe never fills."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    process.lines = []

    def drain() -> None:
        for line in iter(process.stdout.readline, b""):
            process.lines.append(line.decode(errors="replace"))

    threading.Thread(target=drain, daemon=True).start()
    return process


def wait_ready(process: subprocess.Popen, marker: str = " ready.", timeout: float = 60.0) -> None:
    """Until the process prints ``marker``, or fail with what it printed."""
    deadline = time.monotonic() + timeout
    while not any(marker in line for line in process.lines):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{process.args[:6]} did not start:\n" + "".join(process.lines[-40:]))
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
