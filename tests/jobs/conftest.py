from __future__ import annotations

import pytest

from tests.stripe_payloads import SECRETS_CONFIG


@pytest.fixture
def app_overrides() -> dict:
    # Two tries, no wait between them: a failing job lands in failed_jobs within the test.
    return {"STRIPE_WEBHOOK_SECRET": SECRETS_CONFIG, "JOB_MAX_RETRIES": 1, "JOB_RETRY_BACKOFF_MAX_SECONDS": 0}


def run_job(app, name: str, *args, **kwargs):
    """Call a job as the scheduler or the code does; without QUEUE_URL it runs here and now."""
    return app.extensions["celery"].tasks[name].apply_async(args=args, kwargs=kwargs)
