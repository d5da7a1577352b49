"""Login's ``next``: followed only to a path on this site (findings 7 and 12)."""

from __future__ import annotations

import pytest

from tests.auth.conftest import cookie_client, submit
from tests.edges.redirect_payloads import LOCAL_TARGETS, as_query, leaves_the_site


def _login_to(app, user, password, target: str):
    client = cookie_client(app)
    path = "/login" + as_query(target)
    return submit(client, path, {"email": user.email, "password": password})


def test_a_control_character_in_next_does_not_make_a_protocol_relative_redirect(app, user, password):
    """Finding 7: ``/<TAB>/evil.example`` passed the old check; the browser drops the tab."""
    response = _login_to(app, user, password, "/\t/evil.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


def test_a_line_break_in_next_after_a_correct_password_is_not_a_500(app, user, password):
    """Finding 12: ``next=/%0a/evil.example`` made the Location header raise."""
    response = _login_to(app, user, password, "/\n/evil.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize("target", ["/%2F%2Fevil.example", "/\\evil.example", "\uff0f\uff0fevil.example"])
def test_encoded_and_lookalike_slashes_are_refused(app, user, password, target):
    response = _login_to(app, user, password, target)
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize("target", LOCAL_TARGETS)
def test_a_local_next_is_still_followed(app, user, password, target):
    response = _login_to(app, user, password, target)
    assert response.status_code == 302
    assert response.headers["Location"] == target
    assert not leaves_the_site(response.headers["Location"])


def test_a_nul_in_the_address_is_refused_with_a_message(client):
    response = client.get("/login" + as_query("\x00//evil.example"))
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_the_login_form_carries_only_a_next_it_would_follow(client):
    kept = client.get("/login" + as_query("/account/profile")).get_data(as_text=True)
    assert 'action="/login?next=/account/profile"' in kept
    dropped = client.get("/login" + as_query("/\t/evil.example")).get_data(as_text=True)
    assert 'action="/login"' in dropped
    assert "evil.example" not in dropped
