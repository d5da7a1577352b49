"""Work that runs once the answer has been sent, in the same process.

For work whose latency must not show in the answer: registration answers a taken email
and a new one alike, so the new account's customer is created after the page has gone out;
a reset-link request does its lookup afterwards for the same reason; and every email queued
in a request is handed to the SMTP server afterwards, so no page waits on the mail server.
If the process dies first, the account is still marked pending and ``flask billing retry``
(or the first action that needs the customer) finishes the job; an email stays unsent in
the outbox for ``flask billing send-emails``.

``RunAfterResponse`` (wrapped around the app by ``init_after_response``) runs a request's jobs
when the server has taken the last piece of the body, or when it closes the response, whichever
comes first: gunicorn always closes, werkzeug's server skips the close when the browser resets
the connection first. A job runs in a request context rebuilt from the request's URL root (no
body, no user), so it can build external links (``url_for(..., _external=True)``), and in the
request's language (a reset link asked for on a Vietnamese page is written in Vietnamese to an
account that chose none).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator

import flask_babel
from flask import Flask, current_app, g, has_request_context, request

log = logging.getLogger("portal.after_response")

#: The WSGI environ keys: the request's jobs; set on requests the server hands to the portal (not
#: on a bare request context, such as a CLI command's or a job's), where an answer follows.
_JOBS = "portal.after_response.jobs"


def init_after_response(app: Flask) -> None:
    app.wsgi_app = RunAfterResponse(app.wsgi_app)


def response_pending() -> bool:
    """True while the WSGI server waits for this request's answer: work can be moved after it."""
    return has_request_context() and _JOBS in request.environ


def run_after_response(job: Callable[..., object], *args: object) -> None:
    """Call ``job(*args)`` once this request's answer has gone out (now, if no answer follows)."""
    app = current_app._get_current_object()
    url_root = request.url_root
    language = str(flask_babel.get_locale() or "") or None
    request_id = g.get("request_id")  # its log lines stay the request's (the email it sends)

    def run() -> None:
        with app.test_request_context(base_url=url_root), _speaking(language):
            g.request_id = request_id
            try:
                job(*args)
            except Exception:  # the answer is gone: nobody to tell but the log (and the retry)
                log.exception("work after the response failed: %s", getattr(job, "__name__", job))

    if response_pending():
        request.environ[_JOBS].append(run)
    else:
        run()


@contextlib.contextmanager
def _speaking(language: str | None) -> Iterator[None]:
    if language is None:
        yield
        return
    with flask_babel.force_locale(language):
        yield


class RunAfterResponse:
    """WSGI middleware: a request's jobs run after its body has been handed to the server."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        jobs: list[Callable[[], None]] = []
        environ[_JOBS] = jobs
        return _BodyThenJobs(self.wsgi_app(environ, start_response), jobs)


class _BodyThenJobs:
    def __init__(self, body: Iterable[bytes], jobs: list[Callable[[], None]]) -> None:
        self.body, self.jobs = body, jobs

    def __iter__(self) -> Iterator[bytes]:
        yield from self.body
        self._run_jobs()  # the server asked past the last piece: the answer is out

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self._run_jobs()

    def _run_jobs(self) -> None:
        while self.jobs:
            self.jobs.pop(0)()
