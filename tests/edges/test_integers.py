"""Integers from outside: ids in paths and ``page=`` out of range are 404/400, never 500 (finding 12)."""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import IntegerConverter

from portal.auth import api_tokens as tokens
from portal.users.models import Role
from tests.conftest import AuthActions, IsolatedClient, both_engines, extract_csrf
from tests.factories import make_user
from tests.practices.conftest import make_practice

#: Too big for PostgreSQL's INTEGER, for BIGINT, for SQLite's INTEGER, for Python's int(); zero; a sign;
#: not ASCII digits.
TOO_BIG = ["2147483648", "9223372036854775808", "99999999999999999999", "9" * 5000]
BAD_IDS = [*TOO_BIG, "0", "-1", "+1", "%D9%A3"]
BAD_PAGES = [*TOO_BIG, "1" + "0" * 30, "0", "-1", "abc", "1.5", "%C2%B2", " 2"]
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _id_routes(app) -> list[tuple[str, str, str]]:
    """(method, rule, argument) for every route argument read by the int converter."""
    routes = []
    for rule in app.url_map.iter_rules():
        for argument, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    routes.append((method, rule.rule, argument))
    return routes


def _path(rule: str, bad_argument: str, bad_value: str) -> str:
    def value(match: re.Match) -> str:
        converter, name = match.groups()
        if name == bad_argument:
            return bad_value
        return "1" if converter == "int" else "pm_unknown"

    return _ARGUMENT.sub(value, rule)


def _client(app, email: str):
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    assert AuthActions(client).login(email).status_code == 302
    return client


@both_engines
def test_out_of_range_ids_in_every_route_are_404(app):
    owner = make_user(email="owner@example.com")
    admin = make_user(email="admin@example.com", role=Role.ADMIN)
    make_practice(owner)
    clients = {"owner": _client(app, owner.email), "admin": _client(app, admin.email)}
    token = {"Authorization": f"Bearer {tokens.issue_token(owner)}"}
    csrf = {name: extract_csrf(c.get("/account").get_data(as_text=True)) for name, c in clients.items()}
    routes = _id_routes(app)
    assert len(routes) >= 25

    answers = {}
    for method, rule, argument in routes:
        who = "admin" if rule.startswith("/admin") else "owner"
        for bad in BAD_IDS:
            path = _path(rule, argument, bad)
            if rule.startswith("/users") or rule.startswith("/api"):
                response = clients[who].open(path, method=method, headers=token, json={})
            else:
                data = {"csrf_token": csrf[who]} if method != "GET" else None
                response = clients[who].open(path, method=method, data=data)
            answers[f"{method} {path}"] = response.status_code
    assert {path: status for path, status in answers.items() if status != 404} == {}


@both_engines
@pytest.mark.parametrize("bad", BAD_PAGES)
def test_out_of_range_page_numbers_are_400_with_a_message(app, bad):
    owner = make_user(email="owner@example.com")
    admin = make_user(email="admin@example.com", role=Role.ADMIN)
    practice = make_practice(owner)
    pages = [
        (owner, f"/practices/{practice.id}/history"),
        (owner, f"/practices/{practice.id}/billing"),
        (owner, f"/practices/{practice.id}/billing/invoices"),
        (admin, "/admin/practices"),
        (admin, "/admin/events"),
    ]
    for user, path in pages:
        client = _client(app, user.email)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(f"{path}?page={bad}", headers=headers)
            # htmx swaps only a 200: its refusal goes into the page's messages (#flashes)
            expected = 200 if headers else 400
            assert response.status_code == expected, (path, bad, response.status_code)
            assert not headers or response.headers["HX-Retarget"] == "#flashes"
            assert "That page number is not valid" in response.get_data(as_text=True)


@both_engines
def test_good_page_numbers_still_page(app):
    owner = make_user(email="owner@example.com")
    practice = make_practice(owner)
    client = _client(app, owner.email)
    for query in ("", "?page=", "?page=1", "?page=2", "?page=999999"):
        assert client.get(f"/practices/{practice.id}/history{query}").status_code == 200


@both_engines
def test_api_product_id_out_of_range_is_404(app):
    owner = make_user(email="owner@example.com")
    token = {"Authorization": f"Bearer {tokens.issue_token(owner)}"}
    client = IsolatedClient(app, app.response_class)
    for product_id in (2**31, 2**63, 10**30, 0, -5):
        response = client.post("/payments/create-intent", headers=token, json={"productId": product_id})
        assert response.status_code == 404, (product_id, response.get_json())
        assert response.get_json()["error"]["code"] == "not_found"
