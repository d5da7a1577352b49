"""Deeply nested JSON is a 400, never a 500 (found by the outside attack on issue 14).

Python's JSON parser recurses: ``[`` a thousand times deep ran it out of stack before any view
saw the body, on routes that need no login (sign-up, token login, where the throttle reads the
email). Every body goes through one JSON provider that refuses more than ``MAX_JSON_DEPTH`` levels.
"""

from __future__ import annotations

import pytest

from portal.auth import api_tokens as tokens
from portal.request_limits import MAX_JSON_DEPTH
from tests.conftest import IsolatedClient

DEEP = {
    "object holding 1,000 arrays": '{"email": "a@example.com", "a":' + "[" * 1000 + "]" * 1000 + "}",
    "3,000 arrays": "[" * 3000 + "]" * 3000,
    "just past the limit": '{"a":' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}",
}


@pytest.mark.parametrize("body", DEEP.values(), ids=DEEP.keys())
@pytest.mark.parametrize("path", ["/users", "/auth/login", "/payments/customer/payment-methods"])
def test_deeply_nested_json_is_refused_with_400(app, user, path, body):
    client = IsolatedClient(app, app.response_class)
    bearer = {"Authorization": f"Bearer {tokens.issue_token(user)}"}
    response = client.post(path, data=body, content_type="application/json", headers=bearer)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("invalid_json", "bad_request")


def test_json_at_the_limit_still_reaches_the_view(app):
    """The limit refuses nothing a client sends: a body as deep as allowed gets the view's own answer."""
    client = IsolatedClient(app, app.response_class)
    body = '{"email": "a@example.com", "password": "x", "deep":' + "[" * (MAX_JSON_DEPTH - 1)
    body += "]" * (MAX_JSON_DEPTH - 1) + "}"
    response = client.post("/auth/login", data=body, content_type="application/json")
    assert response.status_code == 401
