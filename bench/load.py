"""A load generator run as its own process: N keep-alive connections, bounded by requests and time.

Prints one JSON line: requests, non-2xx count, throughput and latency percentiles.
Usage: python -m bench.load URL --connections 8 --requests 2000 --seconds 20 [--header 'Cookie: ...']
       [--webhook-secret S]  (each request is a unique signed webhook event instead of a GET)
       [--latencies]  (the JSON also lists every request's latency)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import itertools
import json
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def signed_event(secret: str) -> tuple[bytes, dict]:
    event_id = "evt_bench_" + uuid.uuid4().hex
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": "bench.unhandled",
            "data": {"object": {"id": "obj_" + uuid.uuid4().hex, "object": "bench"}},
        }
    ).encode()
    timestamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


def run(
    url: str,
    connections: int,
    total: int,
    seconds: float,
    headers: dict,
    secret: str | None,
    with_latencies: bool = False,
) -> dict:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    counter = itertools.count()
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal failures
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine: list[float] = []
        bad = 0
        while next(counter) < total and time.monotonic() < deadline:
            if secret:
                body, extra = signed_event(secret)
                method = "POST"
            else:
                body, extra, method = None, {}, "GET"
            start = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers={**headers, **extra})
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            mine.append(time.perf_counter() - start)
            bad += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            failures += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    extra = {"latencies_ms": [round(value * 1000, 3) for value in latencies]} if with_latencies else {}
    return {
        **extra,
        "requests": len(latencies),
        "non_2xx": failures,
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--webhook-secret")
    parser.add_argument("--latencies", action="store_true", help="also print every latency (ms)")
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    result = run(
        args.url, args.connections, args.requests, args.seconds, headers, args.webhook_secret, args.latencies
    )
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
