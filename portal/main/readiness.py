"""Is this process ready for traffic? (``/readyz``.) And the scrape of ``/metrics``.

Ready means what every page needs: the database answers ``SELECT 1``, and Redis answers ``PING``
when a setting names it (the throttle counters' ``RATELIMIT_STORAGE_URI``; ``REDIS_URL`` for what
else may use it). Stripe is not a condition: the portal keeps serving pages while Stripe is down
(its circuit breaker says so on /metrics), and taking every instance out of a load balancer because
of Stripe would turn a billing outage into a site outage.

Each check runs in a worker thread and gets ``READINESS_TIMEOUT_SECONDS``: a database host that
drops packets makes the probe answer 503 in time instead of hanging it. A check still hung holds
its thread; with all of them busy the next probes time out too, which is the right answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
import sqlalchemy as sa
from flask import current_app
from kombu import Connection

from portal.extensions import db
from portal.gateway.gateway import stripe_breaker_state
from portal.jobs.failures import waiting_count
from portal.mail.outbox import unsent_count
from portal.metrics import exposition
from portal.queueing import queue_mode

log = logging.getLogger("portal.operations")

#: Settings that, when they name Redis, make it a readiness condition.
REDIS_SETTINGS = ("RATELIMIT_STORAGE_URI", "REDIS_URL")

#: Celery's default queue: its Redis list holds the jobs no worker has taken yet.
DEFAULT_QUEUE = "celery"

_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def _database(engine: sa.Engine, timeout: float) -> None:
    with engine.connect() as connection:  # its transaction ends (rolled back) when it goes back to the pool
        if engine.dialect.name == "postgresql":  # LOCAL: this transaction only, not the pooled connection
            connection.execute(sa.text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
        connection.execute(sa.text("SELECT 1"))


def _redis(url: str, timeout: float) -> None:
    url = url.replace("redis+unix://", "unix://", 1)  # the limits library's spelling
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def _broker(url: str, timeout: float) -> None:
    if url.split("://", 1)[0] in ("redis", "rediss", "redis+unix"):
        _redis(url, timeout)
        return
    with Connection(url, connect_timeout=timeout) as connection:  # another kombu transport
        connection.ensure_connection(max_retries=1, timeout=timeout)


def queue_depth(url: str, timeout: float) -> float | None:
    """Jobs waiting in the default queue (Redis: the length of its list); None if not Redis."""
    if url.split("://", 1)[0] not in ("redis", "rediss"):
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return float(client.llen(DEFAULT_QUEUE))
    finally:
        client.close()


def redis_urls(config) -> list[str]:
    urls = (config.get(name) or "" for name in REDIS_SETTINGS)
    return sorted({url for url in urls if url.split("://", 1)[0] in ("redis", "rediss", "redis+unix")})


def readiness() -> tuple[bool, dict[str, str]]:
    """(ready, {check: "ok" or why it failed})."""
    timeout = float(current_app.config["READINESS_TIMEOUT_SECONDS"])
    checks: dict[str, Callable[[], None]] = {"database": lambda engine=db.engine: _database(engine, timeout)}
    urls = redis_urls(current_app.config)
    for url in urls:
        name = "redis" if len(urls) == 1 else f"redis:{url.rsplit('@', 1)[-1]}"
        checks[name] = lambda url=url: _redis(url, timeout)
    if queue_mode():  # the workers' broker: without it webhooks and emails would not be handed on
        checks["queue"] = lambda url=current_app.config["QUEUE_URL"]: _broker(url, timeout)
    futures = {name: _checks.submit(check) for name, check in checks.items()}
    results = {}
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            results[name] = "ok"
        except FutureTimeout:
            results[name] = f"no answer within {timeout:g} s"
        except Exception as error:  # the reason, without the URL's password: the exception's class
            results[name] = f"failed: {type(error).__name__}"
    return all(result == "ok" for result in results.values()), results


def metrics_text() -> bytes:
    """The exposition, with what is read at scrape time: the outbox backlog, this worker's breaker.

    The database down: the counters are still served (they say what happened until then), without
    the backlog gauge, and ``portal_scrape_database_up`` says why it is missing."""
    readings = {}
    try:
        backlog = unsent_count()
        readings["portal_outbox_unsent_emails"] = ("Emails waiting in the outbox (unsent)", float(backlog))
        database_up = 1.0
    except sa.exc.SQLAlchemyError:
        log.warning("metrics: the outbox backlog could not be read", exc_info=True)
        database_up = 0.0
    finally:
        db.session.rollback()  # end the read
    if database_up:
        try:
            readings["portal_failed_jobs"] = ("Jobs failed for good, not retried yet", float(waiting_count()))
        except sa.exc.SQLAlchemyError:
            log.warning("metrics: the failed jobs could not be counted", exc_info=True)
        finally:
            db.session.rollback()
    readings["portal_scrape_database_up"] = ("1 if this scrape could read the database", database_up)
    if queue_mode():
        try:
            depth = queue_depth(
                current_app.config["QUEUE_URL"], float(current_app.config["READINESS_TIMEOUT_SECONDS"])
            )
            if depth is not None:
                readings["portal_queue_depth"] = ("Jobs waiting in the queue for a worker", depth)
        except redis.RedisError:
            log.warning("metrics: the queue depth could not be read", exc_info=True)
    return exposition(readings, breaker_state=stripe_breaker_state()["state"])
