"""What ``celery -A worker`` loads: the portal's app and its Celery app (``portal/jobs/queue.py``).

celery -A worker worker --loglevel INFO        # a worker (QUEUE_URL names its broker)
celery -A worker beat --loglevel INFO          # the scheduler (one, whatever the number of hosts)
"""

from portal import create_app

app = create_app()
celery = app.extensions["celery"]
celery.conf.task_always_eager = False  # a worker or beat sends jobs to the broker, never runs them inline
