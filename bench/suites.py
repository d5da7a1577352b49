"""The benchmark suites. Each yields Figures; ratios compare runs made in the same process tree."""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable, Iterator

from bench.data import seed_cards, seed_practice, seed_user
from bench.harness import Figure, Stack, compare, fresh_postgres_database, load, postgres_given, running_stack
from bench.login_timing import login_timing, reset_timing
from bench.peer_suite import peers
from bench.storm import storm


class Run:
    """What the suites of one ``python -m bench`` run share; closed when the run ends."""

    def __init__(self, quick: bool, queue: bool = False) -> None:
        self.quick = quick
        #: ``--queue``: the storm also runs with the portal's job queue (when it has one).
        self.queue = queue
        self._resources = contextlib.ExitStack()
        self._pages: tuple[Stack, list[tuple[str, str, dict]], str] | None = None

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self._resources.close()

    def pages(self) -> tuple[Stack, list[tuple[str, str, dict]], str]:
        """The stack, pages and session that page_cost and stripe_insulation both measure."""
        if self._pages is None:
            stack = self._resources.enter_context(running_stack())
            pages = _seed_pages(stack, "bench-pages@example.com")
            cookie = stack.login("bench-pages@example.com", "bench-password-1")
            for _, path, headers in pages:  # warm both workers up
                load(
                    f"{stack.portal_url}{path}",
                    cookie=cookie,
                    headers=headers,
                    connections=4,
                    requests_=50,
                    seconds=5,
                )
            self._pages = (stack, pages, cookie)
        return self._pages


def _sizes(quick: bool) -> dict:
    """``compare_seconds``: one round of two URLs loaded in turns (bounded by time, not requests)."""
    if quick:
        return {
            "connections": 4,
            "ingest_seconds": 1.8,
            "compare_seconds": 1.0,
            "turn_seconds": 0.25,
        }
    return {
        "connections": 8,
        "ingest_seconds": 30.0,
        "compare_seconds": 4.0,
        "turn_seconds": 0.4,
    }


def _compared(size: dict) -> dict:
    """``compare`` options of one round: its time, not a request count, bounds it."""
    return {
        "connections": size["connections"],
        "requests_": 10**9,
        "seconds": size["compare_seconds"],
        "turn_seconds": size["turn_seconds"],
    }


def _rounds(quick: bool) -> int:
    return 3 if quick else 5


def page_cost(run: Run) -> Iterator[Figure]:
    """Our pages' throughput as a ratio to a bare page running one query, same app and server.

    Each round loads the page and the baseline in turns from one generator
    (``compare``), so a burst of load from elsewhere on the machine hits both alike; the figure
    is the median of the rounds' ratios.
    """
    size = _sizes(run.quick)
    common = _compared(size)
    stack, pages, cookie = run.pages()
    baseline_url = f"{stack.portal_url}/_bench/page"
    for name, path, headers in pages:
        url = f"{stack.portal_url}{path}"
        ratios, results = [], []
        for n in range(_rounds(run.quick)):
            base, result = compare(
                baseline_url,
                url,
                cookie=cookie,
                second_headers=headers,
                round_index=n,
                **common,
            )
            ratios.append(result["rps"] / base["rps"])
            results.append(result)
            print(f"  {name}: baseline {base['rps']} req/s, page {result['rps']} req/s")
        prefix = f"page_cost.{name}"
        yield Figure(f"{prefix}.throughput_ratio", statistics.median(ratios), "x", ">=", 0.5)
        for key in ("p50_ms", "p95_ms"):
            yield Figure(f"{prefix}.{key}", statistics.median(r[key] for r in results), "ms", ">=", 0)
        yield Figure(f"{prefix}.non_2xx", sum(r["non_2xx"] for r in results), "responses", "<=", 0)


def _seed_pages(stack, email: str) -> list[tuple[str, str, dict]]:
    """A user with cards and a practice with a year of invoices; the pages to measure."""
    user = seed_user(stack, email)
    seed_cards(stack, user, 3)
    practice = seed_practice(stack, user, "Bench Clinic", 12)
    stack.settle_webhooks()
    return [
        ("account", "/account", {}),
        ("practice_billing", f"/practices/{practice}/billing", {}),
        # The invoice history as htmx loads it when paging (the full page is the billing page).
        ("invoices", f"/practices/{practice}/billing/invoices?page=2", {"HX-Request": "true"}),
    ]


def stripe_insulation(run: Run) -> Iterator[Figure]:
    """Pages make no Stripe call, so 300 ms added to every Stripe call must not move their p95.

    Each round loads the same page in turns with the sandbox's added latency at 0 and at 300 ms
    (set between turns, while no request is in flight); the figure is the p95 of every request made
    with the latency over the p95 of every request made without, pooled over the rounds.
    """
    size = _sizes(run.quick)
    common = _compared(size)
    stack, pages, cookie = run.pages()
    control = f"{stack.sandbox_url}/_sandbox/latency"
    for name, path, headers in pages:
        url = f"{stack.portal_url}{path}"
        without, with_latency = [], []
        for n in range(_rounds(run.quick)):
            fast, slow = compare(
                url,
                url,
                cookie=cookie,
                first_headers=headers,
                second_headers=headers,
                latencies=True,
                before_first=(control, {"ms": 0}),
                before_second=(control, {"ms": 300}),
                round_index=n,
                **common,
            )
            without += fast["latencies_ms"]
            with_latency += slow["latencies_ms"]
            print(f"  {name}: p95 {fast['p95_ms']} ms without, {slow['p95_ms']} ms with 300 ms latency")
        stack.sandbox_control("latency", {"ms": 0})
        ratio = _p95(with_latency) / _p95(without)
        yield Figure(f"stripe_insulation.{name}.p95_ratio", ratio, "x", "<=", 1.10)


def _p95(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=20)[-1]


def webhook_ingest(run: Run) -> Iterator[Figure]:
    """Unique signed events from 8 connections: our inbox against verify-and-insert, per engine."""
    size = _sizes(run.quick)
    engines = [("sqlite", None)]
    if postgres_given():
        engines.append(("postgresql", fresh_postgres_database("portal_bench")))
    for engine, url in engines:
        with running_stack(url, STRIPE_WEBHOOK_SECRET="whsec_bench") as stack:
            rounds = 3
            common = {
                "connections": 8,
                "requests_": 10**9,
                "seconds": 2 * size["ingest_seconds"] / rounds,
                "turn_seconds": size["turn_seconds"],
            }
            ratios, runs, failures = [], [], 0
            for n in range(rounds):  # 30 s in all, the two endpoints in turns
                base, ours = compare(
                    f"{stack.portal_url}/_bench/webhook",
                    f"{stack.portal_url}/webhooks/stripe",
                    webhook_secret="whsec_bench",
                    round_index=n,
                    **common,
                )
                print(f"  {engine}: baseline {base['rps']} events/s, inbox {ours['rps']} events/s")
                ratios.append(ours["rps"] / base["rps"])
                runs.append(ours)
                failures += ours["non_2xx"] + base["non_2xx"]
            prefix = f"webhook_ingest.{engine}"
            yield Figure(
                f"{prefix}.events_per_s", statistics.median(r["rps"] for r in runs), "events/s", ">=", 0
            )
            yield Figure(f"{prefix}.p99_ms", statistics.median(r["p99_ms"] for r in runs), "ms", ">=", 0)
            yield Figure(f"{prefix}.ratio", statistics.median(ratios), "x", ">=", 0.5)
            yield Figure(f"{prefix}.non_2xx", failures, "responses", "<=", 0)


def _growth_ratio(small: tuple[str, str], large: tuple[str, str], rounds: int, common: dict) -> float:
    """Median over rounds of p50(large) / p50(small), loaded in turns; each side is (url, cookie)."""
    ratios = []
    for n in range(rounds):
        small_run, large_run = compare(
            small[0],
            large[0],
            first_headers={"Cookie": small[1]},
            second_headers={"Cookie": large[1]},
            round_index=n,
            **common,
        )
        ratios.append(large_run["p50_ms"] / small_run["p50_ms"])
        print(f"  p50 {small_run['p50_ms']} ms -> {large_run['p50_ms']} ms")
    return statistics.median(ratios)


def growth(run: Run) -> Iterator[Figure]:
    """Page time as data grows: the largest over the smallest, same page, alternating runs."""
    size = _sizes(run.quick)
    common = _compared(size)
    with running_stack() as stack:
        few = seed_user(stack, "bench-few@example.com")
        many = seed_user(stack, "bench-many@example.com")
        seed_cards(stack, few, 1)
        seed_cards(stack, many, 50)
        stack.settle_webhooks()
        account = f"{stack.portal_url}/account"
        small = (account, stack.login("bench-few@example.com", "bench-password-1"))
        large = (account, stack.login("bench-many@example.com", "bench-password-1"))
        print("  wallet: 1 card -> 50 cards")
        ratio = _growth_ratio(small, large, _rounds(run.quick), common)
        yield Figure("growth.wallet.50_vs_1_cards.p50_ratio", ratio, "x", "<=", 1.2)

        owner = seed_user(stack, "bench-owner@example.com")
        counts = (10, 1_000, 10_000) if not run.quick else (10, 5_000)
        practices = {n: seed_practice(stack, owner, f"Clinic {n}", n) for n in counts}
        stack.settle_webhooks()
        cookie = stack.login("bench-owner@example.com", "bench-password-1")
        smallest = (f"{stack.portal_url}/practices/{practices[counts[0]]}/billing", cookie)
        for n in counts[1:]:
            print(f"  billing page: {counts[0]} -> {n} invoices")
            largest = (f"{stack.portal_url}/practices/{practices[n]}/billing", cookie)
            ratio = _growth_ratio(smallest, largest, _rounds(run.quick), common)
            yield Figure(f"growth.billing.{n}_vs_{counts[0]}_invoices.p50_ratio", ratio, "x", "<=", 1.2)


def stripe_calls_per_action(run: Run) -> Iterator[Figure]:
    """How many Stripe calls each user action makes (printed as a table)."""
    from bench.data import count_calls_per_action

    table = count_calls_per_action()
    print(f"  {'action':<28} {'stripe calls':>12}  operations")
    for action, operations in table.items():
        print(f"  {action:<28} {len(operations):>12}  {', '.join(operations)}")
    renders = len(table["render account page"]) + len(table["render billing page"])
    yield Figure("stripe_calls.page_renders", renders, "calls", "<=", 0)


SUITES: dict[str, Callable[..., Iterator[Figure]]] = {
    "stripe_calls": stripe_calls_per_action,
    "page_cost": page_cost,
    "stripe_insulation": stripe_insulation,
    "webhook_ingest": webhook_ingest,
    "growth": growth,
    "login_timing": login_timing,
    "reset_timing": reset_timing,
    "storm": storm,
    "peers": peers,
}
