"""The list of pages the browser sweep visits (portal/pages.py) covers every route of the app."""

from __future__ import annotations

from portal.pages import NOT_PAGES, PAGES


def test_every_route_is_a_listed_page_or_excluded_with_a_reason(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules()}
    listed = {page.endpoint for page in PAGES}
    assert sorted(routes - listed - set(NOT_PAGES)) == [], "list it in portal/pages.py"
    assert sorted((listed | set(NOT_PAGES)) - routes) == [], "no longer a route"
    assert listed.isdisjoint(NOT_PAGES)


def test_every_listed_page_answers_get(app):
    methods = {rule.endpoint: rule.methods for rule in app.url_map.iter_rules()}
    assert [page.endpoint for page in PAGES if "GET" not in methods[page.endpoint]] == []
