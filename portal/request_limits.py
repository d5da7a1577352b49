"""What a request may carry, checked for every route before any view or hook reads it.

The address: no NUL (``%00``) in the path or the query string. No address of ours holds one,
and PostgreSQL cannot compare or store it ("text fields cannot contain NUL"), so a NUL handed on
to a query was a 500; it is a 400 instead. (Text fields refuse more: see ``portal.text``.)

The body: at most ``MAX_CONTENT_LENGTH`` bytes.
No page or endpoint takes an upload: the largest form is a product description, the largest
webhook a Stripe event, both far below the limit. A body declared larger is refused with 413
before anything reads it; a chunked body (no Content-Length) is read through werkzeug's limited
stream, which stops at the limit and answers 413 too (``BoundedRequest``). Multipart form fields
are capped by ``MAX_FORM_MEMORY_SIZE`` and ``MAX_FORM_PARTS``.

JSON: at most ``MAX_JSON_DEPTH`` levels of nesting. Python's parser recurses, so a megabyte of
``[[[[...`` ran it out of stack (a RecursionError, a 500) before any view saw the body; no body the
API takes is more than a few levels deep. Deeper is invalid JSON to us: ``get_json`` answers 400,
or None when asked to be silent.
"""

from __future__ import annotations

import typing as t

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class _ChunkedBodyLimit(LimitedStream):
    """werkzeug's limit for a body without a Content-Length, but reading it whole runs into the
    413 too: werkzeug's own stops quietly at the limit, handing a form or a JSON parser the first
    megabyte as if it were all."""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()  # raises RequestEntityTooLarge
        return data


class BoundedRequest(Request):
    @cached_property
    def stream(self) -> t.IO[bytes]:
        limit = self.max_content_length
        if limit is not None and self.content_length is None and "wsgi.input_terminated" in self.environ:
            return _ChunkedBodyLimit(self.environ["wsgi.input"], limit, is_max=True)
        return super().stream


#: Far above any body the API takes (three levels), far below where the parser runs out of stack.
MAX_JSON_DEPTH = 32


class DepthLimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing documents nested deeper than ``MAX_JSON_DEPTH`` as invalid (ValueError)."""

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        try:
            document = super().loads(s, **kwargs)
        except RecursionError:  # the parser's stack ran out: far deeper than the limit
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        if _nesting_depth(document) > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return document


def _nesting_depth(document: t.Any) -> int:
    """How many arrays and objects deep ``document`` goes, walked without recursion."""
    deepest, pending = 0, [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _size(limit: int) -> str:
    return f"{limit / 1024 / 1024:g} MB" if limit >= 1024 * 1024 else f"{limit // 1024:,} KB"


def too_large_message(config: t.Mapping) -> str:
    return _(
        "That request is too large: the portal accepts at most %(most)s (%(field)s in any one form "
        "field). Nothing was saved; shorten what you sent and try again.",
        most=_size(config["MAX_CONTENT_LENGTH"]),
        field=_size(config["MAX_FORM_MEMORY_SIZE"]),
    )


NUL_IN_ADDRESS = _l("This address contains a NUL character (%00), which no page of the portal uses.")


def init_request_limits(app: Flask) -> None:
    """Registered before every other hook (CSRF reads the form), so nothing reads a body first."""
    app.request_class = BoundedRequest
    app.json = DepthLimitedJSONProvider(app)

    @app.before_request
    def refuse_nul_in_address() -> None:
        query = request.args.items(multi=True)
        if "\x00" in request.path or any("\x00" in key + value for key, value in query):
            raise BadRequest(NUL_IN_ADDRESS)

    @app.before_request
    def refuse_oversized_body() -> None:
        limit = request.max_content_length
        declared = request.content_length
        if limit is not None and declared is not None and declared > limit:
            raise RequestEntityTooLarge()  # worded by the 413 handler
