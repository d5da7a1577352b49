"""The gateway: sandbox by default, real Stripe with real keys, and one log line per call."""

from __future__ import annotations

import logging

from portal import create_app
from portal.gateway.gateway import API_VERSION, stripe_client


def test_without_a_key_the_portal_uses_the_sandbox(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert app.config["STRIPE_SANDBOX"] is True
    assert app.config["STRIPE_API_BASE_EFFECTIVE"] == "http://127.0.0.1:12111"
    assert app.config["STRIPE_JS_URL"] == "http://127.0.0.1:12111/v3/"


def test_a_real_key_talks_to_api_stripe_com_and_loads_js_stripe_com(tmp_path):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.sqlite'}",
        STRIPE_SECRET_KEY="sk_test_real_looking_key",
        STRIPE_PUBLISHABLE_KEY="pk_test_real_looking_key",
        STRIPE_API_BASE=None,
    )
    assert app.config["STRIPE_SANDBOX"] is False
    assert app.config["STRIPE_API_BASE_EFFECTIVE"] == "https://api.stripe.com"
    with app.app_context():
        options = stripe_client()._requestor._options
        assert options.base_addresses["api"] == "https://api.stripe.com"
        assert options.stripe_version == API_VERSION
    response = app.test_client().get("/register")
    csp = response.headers["Content-Security-Policy"]
    assert "https://js.stripe.com" in csp
    assert "127.0.0.1:12111" not in response.get_data(as_text=True) + csp


def test_each_stripe_call_logs_one_line_with_ids_and_the_acting_user(logged_in, user, caplog):
    caplog.set_level(logging.INFO, logger="portal.gateway")
    logged_in.post(
        "/account/cards/setup-intent", headers={"HX-Request": "true", "X-CSRFToken": _csrf(logged_in)}
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.gateway"]
    assert len(lines) == 1
    assert "op=setup_intent.create" in lines[0]
    assert f"user_id={user.id}" in lines[0] and f"customer_id={user.stripe_customer_id}" in lines[0]
    assert "outcome=ok" in lines[0]


def _csrf(client) -> str:
    from tests.conftest import extract_csrf

    return extract_csrf(client.get("/account").get_data(as_text=True))
