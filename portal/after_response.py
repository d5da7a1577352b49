"""Work that runs once the answer has been sent, in the same process.

For work whose latency must not show in the answer: registration answers a taken email
and a new one alike, so the new account's customer is created after the page has gone out;
a reset-link request does its lookup afterwards for the same reason; and every email queued
in a request is handed to the SMTP server afterwards, so no page waits on the mail server.
If the process dies first, the account is still marked pending and ``flask billing retry``
(or the first action that needs the customer) finishes the job; an email stays unsent in
the outbox for ``flask billing send-emails``.

The job runs in a request context rebuilt from the request's URL root (no body, no user),
so it can build external links (``url_for(..., _external=True)``) as the request could.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import after_this_request, current_app, has_request_context, request, request_started

log = logging.getLogger("portal.after_response")

#: Set in the WSGI environ when Flask starts dispatching a request (not in a bare request context
#: such as a CLI command's or a job's below): only then does a response follow to run work after.
_DISPATCHING = "portal.response_pending"


@request_started.connect
def _mark_dispatching(sender, **extra) -> None:
    request.environ[_DISPATCHING] = True


def response_pending() -> bool:
    """True while the WSGI server waits for this request's answer: work can be moved after it."""
    return has_request_context() and request.environ.get(_DISPATCHING, False)


def run_after_response(job: Callable[..., object], *args: object) -> None:
    """Call ``job(*args)`` when the WSGI server closes this request's response."""
    app = current_app._get_current_object()
    url_root = request.url_root

    def run() -> None:
        with app.test_request_context(base_url=url_root):
            try:
                job(*args)
            except Exception:  # the answer is gone: nobody to tell but the log (and the retry)
                log.exception("work after the response failed: %s", getattr(job, "__name__", job))

    @after_this_request
    def schedule(response):
        response.call_on_close(run)
        return response
