"""Work that runs once the answer has been sent, in the same process.

For a Stripe call whose latency must not show in the answer: registration answers a taken email
and a new one alike, so the new account's customer is created after the page has gone out. If
the process dies first, the account is still marked pending and ``flask billing retry`` (or the
first action that needs the customer) finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import after_this_request, current_app

log = logging.getLogger("portal.after_response")


def run_after_response(job: Callable[..., object], *args: object) -> None:
    """Call ``job(*args)`` in an app context when the WSGI server closes this request's response."""
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                job(*args)
            except Exception:  # the answer is gone: nobody to tell but the log (and the retry)
                log.exception("work after the response failed: %s", getattr(job, "__name__", job))

    @after_this_request
    def schedule(response):
        response.call_on_close(run)
        return response
