"""The default throttle storage (portal-database://): exact counts, fixed windows, shared by all."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from limits.storage import storage_from_string

from portal.throttle import DatabaseStorage
from tests.conftest import both_engines


@both_engines
def test_concurrent_hits_are_each_counted_once(app):
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    assert isinstance(storage, DatabaseStorage)

    def hit(_):
        with app.app_context():
            return storage.incr("LIMITER/race", 60)

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = sorted(pool.map(hit, range(40)))
    assert counts == list(range(1, 41))  # every hit saw its own count: none lost, none doubled
    assert storage.get("LIMITER/race") == 40


def test_a_window_ends_and_the_next_hit_opens_a_new_one(app):
    storage = DatabaseStorage("portal-database://")
    assert [storage.incr("LIMITER/window", 1) for _ in range(3)] == [1, 2, 3]
    assert storage.get_expiry("LIMITER/window") > time.time()
    time.sleep(1.05)
    assert storage.get("LIMITER/window") == 0
    assert storage.incr("LIMITER/window", 1) == 1
    assert storage.incr("LIMITER/window", 1, amount=-1) == 0  # a refund
    storage.clear("LIMITER/window")
    assert storage.get("LIMITER/window") == 0 and storage.check()
