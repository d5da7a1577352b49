"""Figure: failed logins allowed per minute under ``make run`` (2 gunicorn workers) = the documented limit.

The portal runs as ``make run`` serves it (migrated database, gunicorn with 2
workers as gunicorn.conf.py sets them, loopback), once with the default throttle storage (the
portal's database) and once with Redis. Three times the limit of failed logins
arrive at once from one address, half through the login form and half through the JSON API's
``POST /auth/login`` (one limit, whichever way they come); exactly the documented number may
get through.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from config import Config
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/2")  # one Redis database per checkout


@contextlib.contextmanager
def make_run_portal(tmp_path: Path, sandbox_url: str, **env: str):
    """``flask db upgrade`` then gunicorn as ``make run`` starts it, on a free loopback port."""
    port = free_port()
    environ = {
        **os.environ,
        "FLASK_APP": "wsgi:app",
        "PORTAL_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite'}",
        "STRIPE_API_BASE": sandbox_url,
        "SANDBOX_DATABASE": str(tmp_path / "sandbox.sqlite"),
        **env,
    }
    for name in ("STRIPE_SECRET_KEY", "LOGIN_THROTTLE", "MAIL_SERVER"):
        environ.pop(name, None)
    if "RATELIMIT_STORAGE_URI" not in env:
        environ.pop("RATELIMIT_STORAGE_URI", None)  # the default storage
    subprocess.run(
        [PYTHON, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=environ, check=True, capture_output=True
    )
    gunicorn = str(Path(PYTHON).parent / "gunicorn")
    # `make run`'s command line: workers and threads come from gunicorn.conf.py.
    args = [gunicorn, "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with open(tmp_path / "gunicorn.log", "w") as log:
        process = subprocess.Popen(
            args, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline and process.poll() is None, (
                tmp_path / "gunicorn.log"
            ).read_text()
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def _failed_login(url: str, attempt: int = 0) -> int:
    """One failed login: through the form, or (odd attempts) the JSON API; its status as the form's
    (the API's 401 is the form's 422)."""
    if attempt % 2:
        body = {"email": "nobody@example.com", "password": "wrong-password-1"}
        status = requests.post(f"{url}/auth/login", json=body, timeout=30).status_code
        return 422 if status == 401 else status
    session = requests.Session()
    page = session.get(f"{url}/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"email": "nobody@example.com", "password": "wrong-password-1", "csrf_token": token}
    return session.post(f"{url}/login", data=form, allow_redirects=False, timeout=30).status_code


@pytest.mark.parametrize("storage", ["default", "redis"])
def test_logins_allowed_per_minute_under_make_run(tmp_path, sandbox, figure, storage):
    env = {}
    if storage == "redis":
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()  # this suite's own Redis database
        env["RATELIMIT_STORAGE_URI"] = REDIS_URL
    documented = int(Config.LOGIN_THROTTLE.split()[0])
    with make_run_portal(tmp_path, sandbox.url, **env) as url:
        with ThreadPoolExecutor(max_workers=8) as pool:  # at once, spread over both workers
            statuses = list(pool.map(lambda n: _failed_login(url, n), range(3 * documented)))
        statuses.append(_failed_login(url))  # and one more after the burst
    assert statuses.count(422) == documented, statuses
    assert statuses.count(429) == len(statuses) - documented, statuses
    figure(
        f"logins_allowed_per_minute_make_run_{storage}",
        statuses.count(422),
        f"failed logins allowed per minute under make run, web form and API mixed, {storage} storage "
        f"(documented {documented})",
    )
