"""gunicorn settings for `make run` (gunicorn also reads this file by itself from the project root).

Why these numbers: a request waiting on Stripe holds a thread but almost no CPU, and
the gateway ends every Stripe action within STRIPE_ACTION_BUDGET_SECONDS (9.5 s, so an
answer comes within 10 s; see config.py). With 2 workers x 4 threads, 8 such requests
held every thread, so pages that need no Stripe call queued behind a hung Stripe. With
16 threads per worker, 12 hung Stripe actions (even all in one worker) leave threads for
every other page, and once a worker's circuit breaker opens, its Stripe actions answer
at once.
(tests/reliability/test_stripe_hang.py measures this set-up.)

Every value can be changed through an environment variable, as noted.
"""

from __future__ import annotations

import os

# make run passes --bind 127.0.0.1:$(PORT), which wins over this.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")

# Processes: one per core is plenty for a portal whose requests mostly wait on I/O.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# Threads: a request waiting on Stripe or on SMTP costs a thread, not a core.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))

# Each thread may need a database connection at once: size the SQLAlchemy pool to the threads,
# so a page never waits for a connection held by a request that waits on Stripe.
os.environ.setdefault("DATABASE_POOL_SIZE", str(threads))

# A worker whose main loop is silent this long is killed and replaced. Stripe calls end within
# their 10 s budget, so 30 s only catches a worker that is truly stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
# Idle keep-alive connections wait in the worker's poller, not in a thread, and close after 5 s.
keepalive = 5

# "-": the access log on stdout; an empty GUNICORN_ACCESS_LOG turns it off.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# Reset, email-change and verification links carry their token in the path: the access log
# writes "[redacted]" in its place (and in query secrets and the Referer); see portal/access_log.py.
logger_class = "portal.access_log.TokenRedactingLogger"

# Metrics (/metrics, portal/metrics.py): each worker writes its counters into one directory that any
# worker's scrape reads in full. It must be set before anything imports prometheus_client, which
# picks in-memory or file-backed values once, at import: the logger class above is imported by the
# master before any server hook runs (and it imports the portal), so an on_starting hook was too late
# and the workers counted in private memory, reported by no scrape (attack 19 A1). So it is set here,
# when gunicorn reads this file: a fresh directory unless PROMETHEUS_MULTIPROC_DIR names one. A named
# one is shared with the host's queue workers (make run, the Procfile), so their counts (webhook
# events applied, job failures) are in this host's scrape too. Nothing counted is removed here: a
# dead process's counters are part of the host's totals (removing them made the totals go down, which
# Prometheus reads as a reset; recheck R2), and whoever starts the host empties the directory first
# (make run, make run-distributed). Only the live gauges of processes no longer running go, as
# prometheus-client's mark_process_dead does (a dead worker's breaker state is no state).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


def _metrics_directory() -> None:
    import tempfile

    path = os.environ.get(METRICS_DIR_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        # Imported once the directory is set: prometheus_client picks its kind of values at import.
        from prometheus_client import multiprocess

        pids = {name.rsplit("_", 1)[1].removesuffix(".db") for name in os.listdir(path) if "_" in name}
        for pid in pids:
            if pid.isdigit() and not _running(int(pid)):
                multiprocess.mark_process_dead(int(pid), path)  # its live gauges; its counts stay
    else:
        os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="portal-metrics-")
        _made_metrics_dir.append(os.environ[METRICS_DIR_ENV])


#: The directory made above (removed on exit); one named by the environment is left in place.
_made_metrics_dir: list[str] = []
_metrics_directory()


def on_exit(server):
    import shutil

    for path in _made_metrics_dir:
        shutil.rmtree(path, ignore_errors=True)


def child_exit(server, worker):
    """A dead worker's live gauges (the circuit breaker's state) leave the scrape; its counts stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# LOG_FORMAT=json (portal/logs.py): the portal writes one JSON line per request itself, so gunicorn's
# access log is off, and gunicorn's own messages (workers started, timeouts) are JSON lines too.
if os.environ.get("LOG_FORMAT", "").lower() == "json":
    accesslog = None
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": []},  # the portal adds its own JSON handler
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
    }
