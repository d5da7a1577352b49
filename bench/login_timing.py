"""Login time for an unknown email over a known one: equal, or the timing tells which emails exist.

Both answers are the same page; what could differ is the work behind them. A
known email costs one argon2 verification, and an unknown one must cost the same
(one verification against a dummy hash made once, not a fresh hash every miss).
The portal runs as ``make run`` serves it (gunicorn, 2 workers, the production
argon2 parameters of the development config); each try is one failed login
timed at the client, known and unknown in turns, so a slow moment hits both.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator

import requests

from bench.data import PASSWORD, seed_user
from bench.harness import Figure, running_stack

KNOWN = "bench-timing@example.com"
UNKNOWN = "nobody-here@example.com"


def _failed_login_seconds(portal_url: str, email: str) -> float:
    """One failed login (wrong password), timed from the POST to the answer."""
    session = requests.Session()
    page = session.get(f"{portal_url}/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"email": email, "password": "not-the-password-1", "csrf_token": token}
    started = time.perf_counter()
    response = session.post(f"{portal_url}/login", data=form, allow_redirects=False, timeout=30)
    elapsed = time.perf_counter() - started
    assert response.status_code == 422, (response.status_code, response.text[:300])
    return elapsed


def login_timing(run) -> Iterator[Figure]:
    tries = 10 if run.quick else 50
    with running_stack() as stack:
        seed_user(stack, KNOWN)
        assert PASSWORD != "not-the-password-1"
        for _ in range(4):  # both workers: connections, imports, the dummy hash made once
            _failed_login_seconds(stack.portal_url, KNOWN)
            _failed_login_seconds(stack.portal_url, UNKNOWN)
        known, unknown = [], []
        for n in range(tries):
            first, second = (KNOWN, UNKNOWN) if n % 2 == 0 else (UNKNOWN, KNOWN)
            for email in (first, second):
                (known if email == KNOWN else unknown).append(_failed_login_seconds(stack.portal_url, email))
    ratio = statistics.median(unknown) / statistics.median(known)
    yield Figure("login_timing.unknown_over_known", ratio, "x", "in", 1.1, low=0.9)
    yield Figure("login_timing.known_p50_ms", statistics.median(known) * 1000, "ms", ">=", 0)


def _reset_request_seconds(portal_url: str, email: str) -> float:
    """One reset-link request, timed from the POST to the answer (no mail server: the email waits)."""
    session = requests.Session()
    page = session.get(f"{portal_url}/forgot-password", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    started = time.perf_counter()
    response = session.post(
        f"{portal_url}/forgot-password", data={"email": email, "csrf_token": token}, allow_redirects=False,
        timeout=30,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    assert response.status_code == 302, (response.status_code, response.text[:300])
    return elapsed


def reset_timing(run) -> Iterator[Figure]:
    """Reset-request time, unknown email over known: the lookup and the email come after the answer."""
    tries = 10 if run.quick else 40
    with running_stack() as stack:
        seed_user(stack, KNOWN)
        for _ in range(2):  # both workers warmed up
            _reset_request_seconds(stack.portal_url, KNOWN)
            _reset_request_seconds(stack.portal_url, UNKNOWN)
        known, unknown = [], []
        for n in range(tries):
            first, second = (KNOWN, UNKNOWN) if n % 2 == 0 else (UNKNOWN, KNOWN)
            for email in (first, second):
                (known if email == KNOWN else unknown).append(_reset_request_seconds(stack.portal_url, email))
    ratio = statistics.median(unknown) / statistics.median(known)
    yield Figure("reset_timing.unknown_over_known", ratio, "x", "in", 1.1, low=0.9)
