"""Figure 7: every unsafe route refuses a logged-in browser request without a CSRF token (400).

The routes come from the app's url_map. Two kinds are exempt from CSRF and are
checked for what protects them instead: the Stripe webhook (a signature; without
one: 400, nothing written) and the JSON API (bearer tokens only: the session cookie
alone is refused with 401, and its public endpoints do nothing for a cookie).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import url_for

from portal.extensions import db
from portal.users.models import User
from tests.conftest import AuthActions, IsolatedClient
from tests.reliability.conftest import row_counts
from tests.reliability.test_object_routes import NOT_OBJECTS, UNSAFE, fill
from tests.reliability.world import build_world

WEBHOOK = "webhooks.stripe_webhook"
#: JSON API endpoints that take credentials in the body instead of a token (sign up, log in).
PUBLIC_API = {"api.create_user", "api.create_token"}


@pytest.fixture
def world(app, sandbox):
    return build_world(sandbox)


def _client(app, email: str) -> IsolatedClient:
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    assert AuthActions(client).login(email).status_code == 302
    return client


def _url(app, rule, world) -> str:
    with app.test_request_context():
        values = fill(rule, world)
        values.update({arg: "not-a-real-token" for arg in rule.arguments & NOT_OBJECTS})
        return url_for(rule.endpoint, **values)


def test_every_unsafe_route_refuses_a_request_without_csrf(app, world, figure):
    owner = _client(app, world.owner.email)
    admin = _client(app, world.admin.email)
    counter = app.extensions["stripe_call_counter"]
    refused, api_refused, webhook = [], [], []

    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods & UNSAFE):
            url = _url(app, rule, world)
            client = admin if rule.endpoint.startswith("admin.") else owner
            before = row_counts()
            with counter.watch() as calls:
                response = client.open(url, method=method, data={"name": "x", "plan": "monthly"})
            assert calls == [], (method, url, calls)
            if rule.endpoint == WEBHOOK:
                assert response.status_code == 400 and row_counts() == before
                webhook.append(f"{method} {rule.rule}")
            elif rule.endpoint.startswith("api."):
                if rule.endpoint in PUBLIC_API:
                    assert response.status_code in (400, 422), (method, url, response.status_code)
                else:
                    assert response.status_code == 401, (method, url, response.status_code)
                assert row_counts() == before
                api_refused.append(f"{method} {rule.rule}")
            else:
                assert response.status_code == 400, (method, url, response.status_code)
                assert "Your form expired" in response.get_data(as_text=True)
                refused.append(f"{method} {rule.rule}")

    # The refusals changed nothing: both still logged in, the account still there.
    assert owner.get("/account").status_code == 200 and admin.get("/admin/").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email == world.owner.email)) == 1
    assert {"POST /logout", "POST /account/delete", "POST /practices/<int:practice_id>/billing/pay"} <= set(
        refused
    )
    figure(
        "csrf",
        len(refused),
        f"unsafe route/method pairs refused without a CSRF token (400); {len(api_refused)} JSON API "
        f"pairs refuse the session cookie (401, or 400 for sign-up/log-in); the webhook refuses unsigned",
    )
