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
