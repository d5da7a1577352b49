"""Secrets in URLs never reach an access log.

A password-reset, email-change, verification or practice-invitation link carries its token in the path
(``/reset-password/<token>``); Stripe sends a browser back with a client secret in the
query. The access log records full URLs (and the Referer, which repeats the page's
URL), so a log reader could take over the account. Everything written to the access
log goes through ``redact_urls`` first: gunicorn's (``TokenRedactingLogger``, named by
gunicorn.conf.py) and the werkzeug development server's (``RedactUrls``, installed on
the ``werkzeug`` logger by ``create_app``).

Redacted by class, not route by route: the segment after any route that takes a
``<token>`` (``TOKEN_ROUTES``, checked against the app's URL map by the tests), any
path segment shaped like a signed itsdangerous token, and every query value whose
name says token, secret or key.

Matched on the URL as the app reads it: a client may percent-encode any character
(``/reset%2Dpassword/<token>``, ``/%72eset-password/<token>`` reach the reset route), so
every escaped unreserved character (letters, digits, ``-._~``, which mean the same either way)
is decoded first. Nothing else is: an escaped newline stays ``%0A``, so the line stays one
readable line.

The access log's other duties live here too: gunicorn writes no line for the probes and the
scrape (``/healthz``, ``/readyz``, ``/metrics``); every request gets an id, answered in
``X-Request-ID`` and put on each log record made while it runs; and with ``LOG_FORMAT=json`` the
app writes the one line per request itself (gunicorn.conf.py turns gunicorn's off), its path
redacted like the rest.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, Response, g, has_request_context, request
from gunicorn.glogging import Logger

from portal.metrics import PROBE_ROUTES, request_route, request_seconds

REDACTED = "[redacted]"

#: Every route with a ``<token>`` in its path (tests/reliability/test_access_log_tokens.py keeps
#: this list equal to the app's URL map).
TOKEN_ROUTES = ("/reset-password/", "/account/email/", "/verify-email/", "/practices/invitations/")

#: A route or a path as it appears inside another URL's query (``/login?next=%2Freset-password%2F...``).
_SLASH = r"(?:/|%2F)"
_TOKEN_SEGMENT = re.compile(
    r"(?P<keep>(?:" + "|".join(re.escape(route).replace("/", _SLASH) for route in TOKEN_ROUTES) + r"))"
    r"(?:(?!%2F)[^/?#&\s\"'])+",
    re.I,
)
#: itsdangerous: base64url payload, then timestamp and signature, dot-separated.
_SIGNED_SEGMENT = re.compile(
    r"(?P<keep>" + _SLASH + r")[A-Za-z0-9_=-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}", re.I
)
#: A query value whose name says token, secret or key, plain or encoded inside another query value.
_SECRET_PARAMETER = re.compile(
    r"(?P<keep>(?:[?&;]|%3F|%26)[^=&\s\"']*?(?:token|secret|key)[^=&\s\"']*?(?:=|%3D))"
    r"(?:(?!%26)[^&#\s\"'])+",
    re.I,
)


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _decode_unreserved(text: str) -> str:
    """``text`` with each escaped unreserved character decoded (``%2D`` is ``-``, ``%72`` is ``r``)."""

    def decode(match: re.Match) -> str:
        character = chr(int(match.group(1), 16))
        return character if character in _UNRESERVED else match.group(0)

    return _ESCAPE.sub(decode, text)


def redact_urls(text: str) -> str:
    """``text`` with every URL secret replaced by ``[redacted]``."""
    text = _decode_unreserved(text)
    for pattern in (_TOKEN_SEGMENT, _SIGNED_SEGMENT, _SECRET_PARAMETER):
        text = pattern.sub(lambda match: match.group("keep") + REDACTED, text)
    return text


class RedactUrls(logging.Filter):
    """For the werkzeug development server's request lines (``flask run``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def install_on_werkzeug_logger() -> None:
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactUrls) for f in logger.filters):
        logger.addFilter(RedactUrls())


class TokenRedactingLogger(Logger):
    """gunicorn's logger, with every atom of an access-log line (request line, path, query,
    Referer, and any header or environ value a custom format might name) redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact_urls(value) if isinstance(value, str) else value for key, value in atoms.items()}

    def access(self, resp, req, environ, request_time):
        """No line for the load balancer's probes and Prometheus's scrapes: they would drown the rest."""
        if environ.get("PATH_INFO") in PROBE_ROUTES:
            return
        super().access(resp, req, environ, request_time)


# The request id and the app's own request line (``LOG_FORMAT=json``).

#: What a client's (or a proxy's) ``X-Request-ID`` may be to be kept: anything else is replaced,
#: so no header can put a newline, a quote or a megabyte into every log line of its request.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=-]{0,127}")

#: The logger of the one JSON line per request.
request_log = logging.getLogger("portal.access")


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def init_request_log(app: Flask) -> None:
    """Every request gets an id, returned in the response's ``X-Request-ID`` and carried by every log
    record made while it runs (``RequestIdFilter``) and by the jobs it queues. A sane ``X-Request-ID``
    is the id only from a trusted proxy (``TRUSTED_PROXIES``): from anyone else it is kept as
    ``client_request_id`` beside a fresh id, so a client cannot give its requests another
    request's id and blend into its trail in the logs (attack 19 A17). With ``LOG_FORMAT=json`` the
    app writes the request's line itself (gunicorn's access log is off then): method, route, path
    (redacted), status, duration_ms, request_id, client_request_id and the user's id."""

    @app.before_request
    def assign_request_id() -> None:
        sent = request.headers.get("X-Request-ID", "")
        sane = bool(_SANE_REQUEST_ID.fullmatch(sent))
        from_proxy = int(app.config.get("TRUSTED_PROXIES") or 0) > 0
        g.request_id = sent if sane and from_proxy else uuid.uuid4().hex
        g.client_request_id = sent if sane and not from_proxy else None

    @app.after_request
    def write_request_line(response: Response) -> Response:
        request_id = current_request_id()
        if request_id:
            response.headers["X-Request-ID"] = request_id
        route = request_route()
        if app.config.get("LOG_FORMAT") == "json" and route not in PROBE_ROUTES:
            request_log.info(
                "%s %s %s",
                request.method,
                redact_urls(request.path),
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "path": redact_urls(request.path),
                    "status": response.status_code,
                    "duration_ms": round(request_seconds() * 1000, 1),
                    "client_request_id": g.get("client_request_id"),
                    "user_id": _user_id(),
                },
            )
        return response


def _user_id() -> int | None:
    """The signed-in person (or the API token's), as far as the request already looked: never a query."""
    user = g.get("api_user") or g.get("_login_user")
    return getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None


class RequestIdFilter(logging.Filter):
    """On the root handler: each record made during a request carries its ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True
