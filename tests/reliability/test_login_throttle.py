"""Figure 9: failed logins are throttled (429) after LOGIN_THROTTLE attempts; the form says why."""

from __future__ import annotations

from tests.conftest import AuthActions


def test_login_throttled(client, user, figure, app):
    auth = AuthActions(client)
    failed = 0
    while True:
        response = auth.login(user.email, "wrong-password")
        if response.status_code == 429:
            break
        assert response.status_code == 422
        failed += 1
        assert failed < 50, "never throttled"
    limit = int(app.config["LOGIN_THROTTLE"].split()[0])
    assert failed == limit
    assert "Too many failed login attempts" in response.get_data(as_text=True)
    # Throttled means throttled: the right password does not get through either, for now.
    assert auth.login(user.email).status_code == 429
    figure("login_throttle", failed, f"failed attempts allowed before 429 ({app.config['LOGIN_THROTTLE']})")
