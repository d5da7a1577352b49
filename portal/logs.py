"""Where log records go, and in what shape: ``LOG_FORMAT=text`` (the default) or ``json``.

Text: one readable line per record (``time LEVEL logger message``). JSON: one JSON object per
line, through python-json-logger's ``JsonFormatter``, with ``time``, ``level``, ``logger``,
``message``, the request's ``request_id`` and whatever a record carries in ``extra`` (the request
line's method, route, path, status, duration_ms, user_id; see ``portal/access_log.py``).
"""

from __future__ import annotations

import logging
import sys

from flask import Flask
from pythonjsonlogger.json import JsonFormatter

from portal.access_log import RequestIdFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
#: JsonFormatter's fields; ``rename_fields`` gives them their JSON names (gunicorn.conf.py uses both).
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}

#: Marks the root handler this module installed, so a second app replaces it instead of adding one.
_OURS = "_portal_handler"


def json_formatter() -> logging.Formatter:
    return JsonFormatter(JSON_FORMAT, rename_fields=JSON_RENAMED)


def configure_logging(app: Flask) -> None:
    """The root handler (JSON, or text outside debug and testing, as before) with the request id."""
    fmt = app.config.get("LOG_FORMAT", "text")
    if fmt != "json" and (app.debug or app.testing):
        return
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
    if fmt != "json" and root.handlers:  # someone (gunicorn, a test runner) already chose
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
