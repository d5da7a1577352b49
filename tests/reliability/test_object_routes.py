"""Figure 6: every route naming an object is refused (403/404) for another user, with no Stripe call.

The routes come from the app's own url_map: any rule with an id-like argument is
tried with the owner's object, as another logged-in user (cookie and CSRF token
included, so only ownership can refuse it) and, for the JSON API, with the other
user's bearer token. A new route with an argument this module does not know fails
the test until it is covered here.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import url_for

from portal.extensions import db
from portal.practices.models import PracticeInvitation
from portal.wallet.models import PaymentMethod
from portal.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import AuthActions, IsolatedClient, extract_csrf
from tests.reliability.world import build_world

#: Arguments that are not objects of anyone (files, signed one-time tokens).
NOT_OBJECTS = {"filename", "token"}
#: Object arguments this module knows how to fill with the owner's object.
OWNED = {
    "payment_method_id",
    "practice_id",
    "member_id",
    "invitation_id",
    "event_id",
    "user_id",
    "order_id",
    "invoice_id",
    "job_id",
    "code_id",
}
#: Public catalogue objects: anyone may see them (their admin routes still need an admin).
PUBLIC = {"product_id"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def object_rules(app):
    """(rule, method) for every route with an object-id argument; fails on an argument it cannot fill."""
    found, unknown = [], []
    for rule in app.url_map.iter_rules():
        args = set(rule.arguments) - NOT_OBJECTS
        if not args:
            continue
        if args - OWNED - PUBLIC:
            unknown.append(f"{rule.endpoint} {rule.rule}: {sorted(args - OWNED - PUBLIC)}")
            continue
        if not args & OWNED and not rule.rule.startswith("/admin") and "/admin/" not in rule.rule:
            continue  # a public catalogue page
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method))
    assert not unknown, (
        "routes with object arguments this figure does not cover yet; add the owner's object to "
        f"tests/reliability/world.py and its argument to OWNED: {unknown}"
    )
    return found


def fill(rule, world) -> dict:
    values = {}
    for arg in rule.arguments - NOT_OBJECTS:
        if arg == "payment_method_id" and "practice_id" in rule.arguments:
            values[arg] = world.owned["practice_payment_method_id"]
        elif arg in world.owned:
            values[arg] = world.owned[arg]
        else:
            values[arg] = 1  # a public object (e.g. a product)
    return values


@pytest.fixture
def world(app, sandbox):
    return build_world(sandbox)


def _state(world) -> tuple:
    db.session.expire_all()
    cards = db.session.execute(
        sa.select(PaymentMethod.stripe_id, PaymentMethod.customer_id, PaymentMethod.is_default).order_by(
            PaymentMethod.stripe_id
        )
    ).all()
    event = db.session.get(WebhookEvent, world.owned["event_id"])
    invitations = db.session.scalar(sa.select(sa.func.count()).select_from(PracticeInvitation))
    return tuple(cards), event.status, event.attempts, len(world.practice.members), invitations


def test_every_object_route_is_refused_to_another_user(app, world, figure):
    counter = app.extensions["stripe_call_counter"]
    cookie = IsolatedClient(app, app.response_class, use_cookies=True)
    assert AuthActions(cookie).login(world.other.email).status_code == 302
    token = extract_csrf(cookie.get("/account").get_data(as_text=True))
    bearer = {"Authorization": f"Bearer {world.other_token}"}
    api = IsolatedClient(app, app.response_class, use_cookies=False)
    before = _state(world)

    refused_cookie, refused_api, stripe_calls = [], [], []
    for rule, method in object_rules(app):
        with app.test_request_context():
            url = url_for(rule.endpoint, **fill(rule, world))
        is_api = rule.endpoint.startswith("api.")
        client = api if is_api else cookie
        headers = dict(bearer) if is_api else ({"X-CSRFToken": token} if method in UNSAFE else {})
        kwargs = (
            {"json": {"name": "Mallory", "email": "x@example.com"}} if is_api and method in UNSAFE else {}
        )
        with counter.watch() as calls:
            response = client.open(url, method=method, headers=headers, **kwargs)
            if method == "GET" and response.status_code in (301, 302, 303, 307, 308):
                # A redirect is fine as long as it lands on a refusal (e.g. /practices/<id> -> billing).
                response = client.get(response.headers["Location"], headers=headers)
        assert response.status_code in (403, 404), (method, url, response.status_code)
        assert calls == [], (method, url, calls)
        stripe_calls.extend(calls)
        (refused_api if is_api else refused_cookie).append(f"{method} {rule.rule}")

    # The JSON API also takes card ids in the body: the owner's card is not the other user's either.
    card = world.owned["payment_method_id"]
    for method, path in (
        ("PATCH", "/payments/customer/default-payment-method"),
        ("POST", "/payments/customer/payment-methods"),
    ):
        with counter.watch() as calls:
            response = api.open(path, method=method, headers=bearer, json={"paymentMethodId": card})
        assert response.status_code in (403, 404, 409), (method, path, response.status_code)
        assert calls == [], (method, path, calls)
        refused_api.append(f"{method} {path} (id in body)")

    assert _state(world) == before  # nothing changed: no card, event or member touched
    assert db.session.get(WebhookEvent, world.owned["event_id"]).status == EventStatus.RECEIVED
    assert {"POST /practices/<int:practice_id>/billing/pay", "DELETE /users/<int:user_id>"} <= set(
        refused_cookie + refused_api
    )
    figure(
        "object_routes",
        len(refused_cookie) + len(refused_api),
        f"object-id route/method pairs refused to another user ({len(refused_cookie)} with its session "
        f"cookie, {len(refused_api)} with its API token), {len(stripe_calls)} Stripe calls",
    )
