"""Figure: live subscriptions per practice after every interleaving of 2-3 concurrent checkouts.

Tabs of one practice start Checkout for both plans and pay, in every order a start can come
before its own payment (6 orders for 2 tabs with webhooks prompt or late; 45 distinct orders
for 3 tabs, two of them on one plan, with webhooks late, the case where nothing tells the portal
that a tab paid already); then 2-3 tabs all at once on real threads. After each: one live
subscription at Stripe, one onboarding fee kept (the duplicates' refunded), and the portal
shows that subscription.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import both_engines
from tests.reliability.checkout_race import new_race, result
from tests.reliability.live import serve

#: The plans of the racing tabs: both plans, and a plan twice.
TABS = {2: ["monthly", "semiannual"], 3: ["monthly", "semiannual", "monthly"]}
CONCURRENT_ROUNDS = 3


@pytest.fixture(scope="module")
def sandbox():
    """A sandbox of this module's own, emptied before each race (the shared one keeps every event)."""
    from stripe_sandbox.testing import SandboxServer
    from tests.strict_calls import check_no_rejections

    with SandboxServer(webhook_url=None) as server:
        yield server
        check_no_rejections("one live subscription (its own sandbox)", server.requests_seen())


def interleavings(plans_of_tabs: list[str]) -> list[list[tuple[str, int]]]:
    """Every order of the steps (start i, pay i) in which each tab starts before it pays.

    Two tabs of the same plan are alike: of two orders that differ only by swapping them, one is run.
    """
    tabs = range(len(plans_of_tabs))
    steps = [(kind, tab) for tab in tabs for kind in ("start", "pay")]
    orders: dict[tuple, tuple] = {}
    for order in itertools.permutations(steps):
        if all(order.index(("start", t)) < order.index(("pay", t)) for t in tabs):
            # what the order does, with tabs named by plan and order of first appearance per plan
            names: dict[int, tuple[str, int]] = {}
            for _, tab in order:
                plan = plans_of_tabs[tab]
                names.setdefault(tab, (plan, sum(1 for p, _ in names.values() if p == plan)))
            orders.setdefault(tuple((kind, names[tab]) for kind, tab in order), order)
    return [list(order) for order in sorted(orders.values())]


def run_order(sandbox, base, plans_of_tabs, order, prompt: bool):
    race = new_race(sandbox, base, len(plans_of_tabs))
    for kind, tab in order:
        if kind == "start":
            race.start(tab, plans_of_tabs[tab])
        else:
            race.pay(tab, come_back=prompt)
        if prompt:
            race.deliver()
    race.settle(concurrently=not prompt)
    return result(race)


def run_concurrently(sandbox, base, plans_of_tabs):
    race = new_race(sandbox, base, len(plans_of_tabs))
    tabs = range(len(plans_of_tabs))
    for step in (lambda t: race.start(t, plans_of_tabs[t]), lambda t: race.pay(t, come_back=False)):
        barrier = threading.Barrier(len(plans_of_tabs), timeout=30)

        def at_once(tab: int, step=step, barrier=barrier) -> None:
            barrier.wait()
            step(tab)

        with ThreadPoolExecutor(len(plans_of_tabs)) as pool:
            list(pool.map(at_once, tabs))
    race.settle(concurrently=True)
    return result(race)


@both_engines
def test_one_live_subscription_whatever_the_race(app, sandbox, figure, engine):
    outcomes = []
    with serve(app) as base:
        for count, plans_of_tabs in TABS.items():
            for order in interleavings(plans_of_tabs):
                for prompt in (True, False) if count == 2 else (False,):  # 3 tabs: the late case only
                    outcomes.append(
                        (
                            (count, tuple(order), prompt),
                            run_order(sandbox, base, plans_of_tabs, order, prompt),
                        )
                    )
            for round_ in range(CONCURRENT_ROUNDS):
                outcomes.append(
                    ((count, "concurrent", round_), run_concurrently(sandbox, base, plans_of_tabs))
                )

    wrong = [
        (case, outcome)
        for case, outcome in outcomes
        if (outcome.live, outcome.net_onboarding_fees, outcome.local_matches) != (1, 1, True)
    ]
    assert not wrong, wrong[:5]
    most_live = max(outcome.live for _, outcome in outcomes)
    duplicates = sum(outcome.duplicates_cancelled for _, outcome in outcomes)
    fees = sorted({outcome.net_onboarding_fees for _, outcome in outcomes})
    figure(
        f"one_live_subscription[{engine}]",
        most_live,
        f"live subscription per practice at most, after {len(outcomes)} races of 2-3 checkouts of both plans "
        f"({len(outcomes) - len(TABS) * CONCURRENT_ROUNDS} step orders, webhooks prompt or late, "
        f"{len(TABS) * CONCURRENT_ROUNDS} on concurrent threads; {duplicates} second paid subscriptions "
        f"cancelled and refunded); net onboarding fees kept per practice: {fees}",
    )
