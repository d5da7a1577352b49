"""The portal as gunicorn serves it, with a count of the request-body bytes the app reads.

``gunicorn tests.reliability.body_limit_app:app`` with BODY_LIMIT_DATABASE_URL (a SQLite file) and
BODY_LIMIT_LOG (where one line per request goes: method, path, declared length, bytes read).
"""

from __future__ import annotations

import os
import threading

from portal import create_app
from portal.extensions import db

_LOG_LOCK = threading.Lock()


class CountingInput:
    """``wsgi.input`` with a count of the bytes read through it."""

    def __init__(self, stream) -> None:
        self._stream, self.count = stream, 0

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        return data

    def read(self, *args) -> bytes:
        return self._counted(self._stream.read(*args))

    def readline(self, *args) -> bytes:
        return self._counted(self._stream.readline(*args))

    def readlines(self, *args) -> list[bytes]:
        return [self._counted(line) for line in self._stream.readlines(*args)]

    def __iter__(self):
        return (self._counted(line) for line in self._stream)


def count_body_reads(wsgi_app, log_path: str):
    def counted(environ, start_response):
        counter = CountingInput(environ["wsgi.input"])
        environ["wsgi.input"] = counter
        try:
            yield from wsgi_app(environ, start_response)
        finally:
            line = " ".join(
                [
                    environ["REQUEST_METHOD"],
                    environ["PATH_INFO"],
                    environ.get("CONTENT_LENGTH") or "-",
                    str(counter.count),
                ]
            )
            with _LOG_LOCK, open(log_path, "a") as log:
                log.write(line + "\n")

    return counted


app = create_app(
    "testing",
    SQLALCHEMY_DATABASE_URI=os.environ["BODY_LIMIT_DATABASE_URL"],
    STRIPE_API_BASE="http://127.0.0.1:9",
)
with app.app_context():
    db.create_all()
app.wsgi_app = count_body_reads(app.wsgi_app, os.environ["BODY_LIMIT_LOG"])
