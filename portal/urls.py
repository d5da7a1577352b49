"""``cached_url``: ``url_for`` for the links the busiest pages repeat on every request."""

from __future__ import annotations

import functools

from flask import Flask, request, url_for


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
