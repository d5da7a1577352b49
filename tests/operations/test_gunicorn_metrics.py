"""Under gunicorn (``make run``'s gunicorn.conf.py, 2 workers) a scrape counts every worker's requests,
and a worker that dies keeps its counts but leaves the live gauges."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from prometheus_client.mmap_dict import MmapedDict

from tests.conftest import extract_csrf
from tests.operations.scrape import value
from tests.reliability.test_throttle_workers import make_run_portal

REQUESTS = 120


def _healthz_count(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text  # from this machine, no token: allowed
    return value(text, "portal_http_requests_total", route="/healthz", status="200")


def _counts_by_worker(metrics_dir: Path) -> dict[int, float]:
    """Each worker's own /healthz count, read from the file it writes."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        counts[pid] = sum(
            count
            for key, count, *_ in MmapedDict.read_all_values_from_file(str(path))
            if json.loads(key)[0] == "portal_http_requests" and json.loads(key)[2].get("route") == "/healthz"
        )
    return counts


def _register(url: str, request_id: str) -> None:
    session = requests.Session()
    csrf = extract_csrf(session.get(f"{url}/register", timeout=10).text)
    form = {"csrf_token": csrf, "name": "Log Reader", "email": "log.reader@example.com"}
    form |= {"password": "correct horse battery", "confirm": "correct horse battery"}
    answer = session.post(f"{url}/register", data=form, headers={"X-Request-ID": request_id}, timeout=30)
    assert answer.status_code == 200 and "/register" not in answer.url, answer.url  # registered


def _burst(url: str) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:  # at once, each on its own connection
        statuses = list(
            pool.map(lambda _: requests.get(f"{url}/healthz", timeout=10).status_code, range(REQUESTS))
        )
    assert statuses == [200] * REQUESTS


def test_a_scrape_sums_the_counters_of_every_worker_dead_or_alive(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # At start a dead process's live gauge goes; counts stay, a dead one's (the host's totals: recheck
    # R2) and a running one's (the queue worker beside it; attack 19 A18: a second gunicorn's start
    # wiped every count of the host).
    dead_gauge = metrics_dir / "gauge_livemax_999999.db"
    dead_counts = metrics_dir / "counter_999998.db"
    running = metrics_dir / f"counter_{os.getpid()}.db"
    for path in (dead_gauge, dead_counts, running):
        MmapedDict(str(path)).close()
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "WEB_CONCURRENCY": "2",
        "LOG_FORMAT": "json",
        "TRUSTED_PROXIES": "1",  # a proxy in front sends the request ids
    }
    with make_run_portal(tmp_path, "http://127.0.0.1:9", **env) as url:
        start = _healthz_count(url)
        _burst(url)
        assert _healthz_count(url) - start == REQUESTS
        first = _counts_by_worker(metrics_dir)
        assert 999999 not in first and sum(first.values()) == start + REQUESTS
        assert running.exists() and dead_counts.exists() and not dead_gauge.exists()

        # The busiest worker dies (gunicorn starts another): the next burst goes to the other workers,
        # the dead one's counts stay in every scrape, and its live gauge (the breaker's) leaves.
        busiest = max(first, key=first.get)
        assert (metrics_dir / f"gauge_livemax_{busiest}.db").exists()
        os.kill(busiest, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while (metrics_dir / f"gauge_livemax_{busiest}.db").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (metrics_dir / f"gauge_livemax_{busiest}.db").exists()
        _burst(url)
        total = _healthz_count(url)
        assert total - start == 2 * REQUESTS
        by_worker = _counts_by_worker(metrics_dir)
        assert by_worker[busiest] == first[busiest]
        assert len([count for count in by_worker.values() if count]) >= 2, by_worker
        assert sum(by_worker.values()) == total
        seen = requests.get(f"{url}/login", headers={"X-Request-ID": "gunicorn-req-1"}, timeout=10)
        assert seen.headers["X-Request-ID"] == "gunicorn-req-1"
        _register(url, "gunicorn-req-2")  # its verification email goes out after the answer
    # LOG_FORMAT=json: every line is JSON, gunicorn's own too; one request line, no probe's.
    log = [json.loads(line) for line in (tmp_path / "gunicorn.log").read_text().splitlines()]
    assert any(line["logger"] == "gunicorn.error" for line in log)
    request_lines = [line for line in log if line["logger"] == "portal.access"]
    assert (request_lines[0]["route"], request_lines[0]["request_id"]) == ("/login", "gunicorn-req-1")
    # Attack 19 A17: the email sent once the answer had gone out was logged with no request id.
    [email_line] = [line for line in log if "kept for the development inbox" in line["message"]]
    assert email_line["request_id"] == "gunicorn-req-2"


def test_make_runs_default_scrape_counts_the_workers_requests(tmp_path, monkeypatch):
    """Attack 19 A1: with no PROMETHEUS_MULTIPROC_DIR (make run's default) the workers counted in
    private memory (prometheus_client was imported before the directory was set) and the scrape
    showed no request at all."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with make_run_portal(tmp_path, "http://127.0.0.1:9", WEB_CONCURRENCY="2") as url:
        start = _healthz_count(url)
        _burst(url)
        assert _healthz_count(url) - start == REQUESTS
