"""The Celery app of one Flask app: its broker, how a job runs, and where a failed one lands.

Two modes, chosen by ``QUEUE_URL``:

- unset (``make run``, the tests): the web processes do their work as they always did, and a job
  called from the code runs at once in the caller's process (``task_always_eager``). The scheduler
  (beat, embedded in the one worker ``make run`` starts) sends its jobs through kombu's SQLAlchemy
  transport on a SQLite file (``QUEUE_LOCAL_BROKER``): no other server is needed.
- a Redis URL (``make run-distributed``): the web processes store and enqueue; workers on that
  broker run the jobs, beat schedules them.

Every job runs inside the Flask app (an app context and a request context on ``PORTAL_URL`` or the
enqueuing request's address, so emails can link back), is retried with exponential backoff on any
exception, and, once its retries have run out, is written to ``failed_jobs`` (``failures.py``),
which ``/admin/jobs`` lists with a Retry button.
"""

from __future__ import annotations

import logging
import os
import uuid

from celery import Celery, Task, signals
from flask import Flask, g

from portal.jobs import schedule, tasks
from portal.jobs.failures import record_failure
from portal.logs import TEXT_FORMAT
from portal.metrics import record_job_failure

#: How long a web process waits for the broker to connect or answer, each time.
BROKER_TIMEOUT_SECONDS = 3


def broker_url(app: Flask) -> str:
    """The queue's broker: ``QUEUE_URL``, else the scheduler's SQLite file beside the database."""
    if app.config.get("QUEUE_URL"):
        return app.config["QUEUE_URL"]
    local = app.config.get("QUEUE_LOCAL_BROKER")
    return local or "sqla+sqlite:///" + os.path.join(app.instance_path, "queue.sqlite")


def make_celery(app: Flask) -> Celery:
    queued = bool(app.config.get("QUEUE_URL"))

    class FlaskTask(Task):
        #: Retried with exponential backoff (2, 4, 8 ... s, jittered, capped) on any exception.
        autoretry_for = (Exception,)
        retry_backoff = 2
        retry_backoff_max = int(app.config.get("JOB_RETRY_BACKOFF_MAX_SECONDS", 600))
        retry_jitter = True
        max_retries = int(app.config.get("JOB_MAX_RETRIES", 5))
        #: A job is acknowledged once it ran: a worker killed mid-job leaves it for another worker.
        acks_late = True
        #: A request's job carries ``base_url`` and ``request_id`` beside its own arguments (taken
        #: off in ``__call__``). Celery checks a job's arguments against its function when it is
        #: sent, and a retry sends them all again: the check refused every retry of a job a request
        #: had queued, which dropped it (attack 19 A11: a webhook event failed once stayed failed).
        typing = False

        def __call__(self, *args, **kwargs):
            kwargs = dict(kwargs)  # a retry sends the job's own kwargs again, base_url included
            base_url = kwargs.pop("base_url", None) or app.config.get("PORTAL_URL")
            # Its log lines carry the id of the request that queued it, else one of its own.
            request_id = kwargs.pop("request_id", None) or f"job-{self.request.id or uuid.uuid4().hex}"
            with app.app_context(), app.test_request_context(base_url=base_url):
                g.request_id = request_id
                return self.run(*args, **kwargs)

        def on_retry(self, exc, task_id, args, kwargs, einfo):
            with app.app_context():
                record_job_failure(self.name, final=False)

        def on_failure(self, exc, task_id, args, kwargs, einfo):
            with app.app_context():
                record_failure(self, task_id, args, exc)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=broker_url(app),
        result_backend=None,
        task_ignore_result=True,
        task_always_eager=not queued,  # no queue: a job called runs here and now
        task_eager_propagates=False,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=int(app.config.get("QUEUE_PREFETCH_MULTIPLIER", 16)),
        broker_connection_retry_on_startup=True,
        beat_schedule=schedule.BEAT_SCHEDULE,
        broker_transport_options=redis_options(app) if broker_url(app).startswith("redis") else {},
        broker_connection_timeout=BROKER_TIMEOUT_SECONDS,
        # Sending a job tries twice at most: the webhook then answers 500 (its event is stored) and
        # Stripe's redelivery sends it again.
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5},
        timezone="UTC",
        enable_utc=True,
    )
    return celery


def redis_options(app: Flask) -> dict:
    """Redis's transport options; the SQL broker of ``make run`` takes none (its transport hands
    them to ``create_engine``, which refuses them: the worker died at start, recheck R1)."""
    return {
        # A worker killed with jobs taken gives them back after this long (kombu's default is an
        # hour). It must outlast the longest job, or a second worker starts it while the first
        # still runs: the nightly reconcile at 10,000 practices took 20 minutes. A webhook event is
        # not left that long: the retry job sends again an event stored 15 minutes ago and not
        # applied (``webhooks.services.resend_stranded``).
        "visibility_timeout": int(app.config.get("QUEUE_VISIBILITY_TIMEOUT", 3600)),
        # A Redis that accepts and never answers held a web thread per webhook for ever, until none
        # was left for any page (attack 19 A14): every connect and every reply is bounded, longer
        # than a worker's one-second wait for jobs (BRPOP).
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
    }


def log_as_the_portal(loglevel=None, **kwargs) -> None:
    """Celery's worker and beat keep the portal's log handler (JSON with ``LOG_FORMAT=json``, each
    record with its job's request id) instead of replacing it with Celery's text format: a receiver
    of ``setup_logging`` tells Celery the logging is configured. Only the level is Celery's."""
    root = logging.getLogger()
    if not root.handlers:  # a debug app installs none: a worker still says what it does
        logging.basicConfig(format=TEXT_FORMAT)
    if loglevel:
        root.setLevel(loglevel)


def init_app(app: Flask) -> None:
    """The Celery app, its jobs and its schedule, kept in ``app.extensions["celery"]``."""
    signals.setup_logging.connect(log_as_the_portal, weak=False, dispatch_uid="portal-logging")
    celery = make_celery(app)
    tasks.register_tasks(celery)
    app.extensions["celery"] = celery
