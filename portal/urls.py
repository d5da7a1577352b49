"""URLs in and out: the id converter and the ``page=`` parser every route shares, and ``cached_url``
(``url_for`` for the links the busiest pages repeat on every request)."""

from __future__ import annotations

import functools
import re

from flask import Flask, abort, current_app, request, url_for
from flask_babel import format_number
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from portal.database import largest_row_id
from portal.extensions import db


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: a row id, 1 to the largest the id columns hold.

    Anything else is a 404, never the database's "integer out of range" (PostgreSQL) or
    OverflowError (SQLite) as a 500.
    """

    #: ASCII digits only (``\d`` would also read "٣" as 3), and no more than the largest id has:
    #: Python refuses to read an int of more than 4,300 digits.
    regex = r"[0-9]{1,19}"
    #: Set per app from its schema by ``init_id_converter``.
    largest = 2**63 - 1

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= self.largest:
            # NotFound, not ValidationError: where several rules share a path (GET, PATCH and
            # DELETE /users/<id>), a rule skipped by its converter would read as a 405.
            raise NotFound()
        return number


def is_row_id(value: int) -> bool:
    """Could ``value`` (an id from a JSON body, say) name a row? The same bound as the URLs'."""
    return 1 <= value <= current_app.url_map.converters["int"].largest


def init_id_converter(app: Flask) -> None:
    """Before any blueprint adds its rules: each rule picks its converter when it is added."""
    bounded = type("RowIdConverter", (RowIdConverter,), {"largest": largest_row_id(db.metadata)})
    app.url_map.converters["int"] = bounded


#: No history is this long; a bigger page number is not one we linked to.
MAX_PAGE = 1_000_000
_PAGE = re.compile(r"[0-9]{1,7}")


def invalid_page_message() -> str:
    """The refusal of a page number, in the reader's language (its largest number as they write one)."""
    return _(
        "That page number is not valid: use a whole number from 1 to %(most)s.", most=format_number(MAX_PAGE)
    )


def page_arg(values: MultiDict | None = None) -> int:
    """``page`` from the query string (or ``values``): 1 when absent, 400 when not a page number."""
    raw = (request.args if values is None else values).get("page")
    if raw is None or raw == "":
        return 1
    if not _PAGE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, invalid_page_message())
    return int(raw)


def cached_url(endpoint: str, **values: object) -> str:
    """``url_for(endpoint, **values)`` (a path to one of our endpoints by its full name), memoised.

    Such a URL is a pure function of the URL map, the script root and the values, and the pages
    drawn most often repeat the same ones on every request: assets, navigation and tabs, a
    practice's billing actions, each saved card's buttons. Each is built once per mount point.
    The cache is not per app: every app ``create_app`` makes has the same URL map.
    """
    return _build(request.script_root, endpoint, tuple(sorted(values.items())))


@functools.lru_cache(maxsize=4096)
def _build(script_root: str, endpoint: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def init_cached_urls(app: Flask) -> None:
    # A global rather than a context variable, so macros imported without context can use it too.
    app.jinja_env.globals["cached_url"] = cached_url
