"""``python -m stripe_sandbox run`` starts a real sandbox process that keeps its state across restarts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import stripe
from click.testing import CliRunner

from stripe_sandbox.cli import sandbox_cli

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(database: Path, port: int) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "stripe_sandbox",
        "run",
        "--port",
        str(port),
        "--database",
        str(database),
        "--webhook-url",
        "none",
    ]
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("sandbox did not start")


def test_run_serves_and_state_survives_restart(tmp_path: Path) -> None:
    database = tmp_path / "sandbox.sqlite"
    port = _free_port()
    process = _start(database, port)
    try:
        client = stripe.StripeClient(
            "sk_test_cli", base_addresses={"api": f"http://127.0.0.1:{port}"}, max_network_retries=0
        )
        customer = client.v1.customers.create({"email": "cli@x.test"})
        requests.post(f"http://127.0.0.1:{port}/_sandbox/clock/advance", json={"days": 2}, timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=10)
    process = _start(database, port)
    try:
        assert client.v1.customers.retrieve(customer.id).email == "cli@x.test"
        clock = requests.get(f"http://127.0.0.1:{port}/_sandbox/clock", timeout=5).json()
        assert clock["offset"] == 2 * 86400
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_help_lists_options() -> None:
    result = CliRunner().invoke(sandbox_cli, ["run", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--database", "--webhook-url", "--webhook-secret"):
        assert option in result.output
