"""The job queue (Celery): the jobs that call into the features, their schedule and their failures.

``queue.init_app`` (from ``create_app``) builds the Celery app, registers ``tasks`` and the beat
``schedule`` on it, and keeps it in ``app.extensions["celery"]``. ``worker.py`` at the top of the
repository is what ``celery -A worker`` loads.
"""
