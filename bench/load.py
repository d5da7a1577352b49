"""A load generator run as its own process: N connections, bounded by requests and time.

Prints one JSON line: requests, non-2xx count, throughput and latency percentiles; with several
URLs, one such object per URL under "targets" (loaded in turns; see ``run``).
Usage: python -m bench.load URL [URL ...] --connections 8 --requests 2000 --seconds 20
       [--header 'Cookie: ...'] [--header-for INDEX 'HX-Request: true']
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

#: The one browser every request claims to come from, the login's included (``harness.Stack.login``).
#: A logged-in page checks the session against the browser it was opened in (Flask-Login's session
#: protection); a generator that logged in as one client and loads pages as another would have
#: every page mark the session and sign a new cookie, which a real browser does once at most.
USER_AGENT = "portal-bench/1 (like a browser that keeps its cookie)"


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


def summary(latencies: list[float], failures: int, seconds: float, with_latencies: bool) -> dict:
    latencies = sorted(latencies)
    extra = {"latencies_ms": [round(value * 1000, 3) for value in latencies]} if with_latencies else {}
    return {
        **extra,
        "requests": len(latencies),
        "non_2xx": failures,
        "seconds": round(seconds, 3),
        "rps": round(len(latencies) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


def run(
    urls: list[str],
    connections: int,
    total: int,
    seconds: float,
    headers: list[dict],
    secret: str | None,
    with_latencies: bool = False,
    turn_seconds: float = 0.4,
    on_turn: dict[int, tuple[str, str]] | None = None,
    first_turn: int = 0,
) -> list[dict]:
    """Load ``urls`` (one server) in turns: every connection sends to one URL for ``turn_seconds``,
    all wait for their last answer, then all move to the next URL. A machine that slows down for a
    while slows every URL alike, and no URL's answers are counted in another's turn.

    ``on_turn[i] = (url, json)`` is POSTed before each turn of URL ``i`` (while every connection
    waits), e.g. to set the sandbox's latency for that turn. ``first_turn`` is the URL loaded first,
    on connections not yet warm; callers alternate it between runs so that favours no URL.
    """
    on_turn = on_turn or {}

    def start_turn(turn: int) -> None:
        if turn in on_turn:
            hook_url, body = on_turn[turn]
            hook = urlsplit(hook_url)
            conn = http.client.HTTPConnection(hook.hostname, hook.port, timeout=30)
            conn.request("POST", hook.path, body=body, headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()

    parts = [urlsplit(url) for url in urls]
    paths = [part.path + (f"?{part.query}" if part.query else "") for part in parts]
    host, port = parts[0].hostname, parts[0].port
    if len(urls) == 1:
        turn_seconds = seconds  # nothing to take turns with
    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in urls]
    failures = [0 for _ in urls]
    turn_time = [0.0 for _ in urls]
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    state = {"turn": first_turn, "since": started, "stop": False, "spent": False}

    def next_turn() -> None:  # run by the last connection to finish the turn, while all wait
        now = time.monotonic()
        turn_time[state["turn"]] += now - state["since"]
        state["turn"] = (state["turn"] + 1) % len(urls)
        state["stop"] = now >= deadline or state["spent"]
        if not state["stop"]:
            start_turn(state["turn"])
        state["since"] = time.monotonic()

    # A connection that died would leave the others waiting: give up on the run instead of hanging.
    turns = threading.Barrier(connections, action=next_turn, timeout=120)

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[list[float]] = [[] for _ in urls]
        bad = [0 for _ in urls]
        while not state["stop"]:
            turn, turn_ends = state["turn"], state["since"] + turn_seconds
            while time.monotonic() < min(turn_ends, deadline):
                if next(counter) >= total:
                    state["spent"] = True
                    break
                if secret:
                    body, extra = signed_event(secret)
                    method = "POST"
                else:
                    body, extra, method = None, {}, "GET"
                start = time.perf_counter()
                try:
                    conn.request(method, paths[turn], body=body, headers={**headers[turn], **extra})
                    response = conn.getresponse()
                    response.read()
                    ok = 200 <= response.status < 300
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=30)
                mine[turn].append(time.perf_counter() - start)
                bad[turn] += 0 if ok else 1
            turns.wait()
        with lock:
            for turn in range(len(urls)):
                latencies[turn].extend(mine[turn])
                failures[turn] += bad[turn]

    start_turn(first_turn)
    state["since"] = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [
        summary(latencies[turn], failures[turn], turn_time[turn], with_latencies) for turn in range(len(urls))
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls", nargs="+", help="one URL, or several taken in turns")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--header", action="append", default=[], help="'Name: value' for every URL")
    parser.add_argument(
        "--header-for",
        action="append",
        nargs=2,
        default=[],
        metavar=("INDEX", "HEADER"),
        help="'Name: value' for the URL at INDEX only",
    )
    parser.add_argument("--turn-seconds", type=float, default=0.4)
    parser.add_argument("--first-turn", type=int, default=0, help="index of the URL loaded first")
    parser.add_argument(
        "--on-turn",
        action="append",
        nargs=3,
        default=[],
        metavar=("INDEX", "URL", "JSON"),
        help="POST JSON to URL before each turn of the URL at INDEX",
    )
    parser.add_argument("--webhook-secret")
    parser.add_argument("--latencies", action="store_true", help="also print every latency (ms)")
    args = parser.parse_args(argv)
    common = {"User-Agent": USER_AGENT, **dict(h.split(": ", 1) for h in args.header)}
    headers = [dict(common) for _ in args.urls]
    for index, header in args.header_for:
        name, value = header.split(": ", 1)
        headers[int(index)][name] = value
    results = run(
        args.urls,
        args.connections,
        args.requests,
        args.seconds,
        headers,
        args.webhook_secret,
        args.latencies,
        args.turn_seconds,
        {int(index): (url, body) for index, url, body in args.on_turn},
        args.first_turn,
    )
    sys.stdout.write(json.dumps(results[0] if len(results) == 1 else {"targets": results}) + "\n")


if __name__ == "__main__":
    main()
