"""HTMX glue: is this an htmx request, and render a page or just its fragment."""

from __future__ import annotations

from flask import Response, make_response, render_template, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context: object) -> Response:
    """The full page for a normal request, the partial alone for htmx.

    Both answers vary on HX-Request so no cache serves one for the other.
    """
    template = fragment if is_htmx() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response
