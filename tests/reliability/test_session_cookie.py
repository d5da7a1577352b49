"""Figure 8: the session cookie is a new one at login, and a copied cookie is dead after logout."""

from __future__ import annotations

from tests.conftest import AuthActions, IsolatedClient

COOKIE = "session"


def _cookie(client, name: str = COOKIE) -> str | None:
    cookie = client.get_cookie(name, domain="portal.test")
    return cookie.value if cookie else None


def _replay(app, value: str, name: str = COOKIE) -> IsolatedClient:
    """A different browser that stole the cookie value."""
    thief = IsolatedClient(app, app.response_class, use_cookies=True)
    thief.set_cookie(name, value, domain="portal.test")
    return thief


def test_session_cookie_renewed_at_login_and_dead_after_logout(app, user, figure):
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    auth = AuthActions(client)
    checks = []

    auth.csrf("/login")
    anonymous = _cookie(client)
    assert anonymous, "the login page sets a session (for its CSRF token)"
    assert auth.login(user.email).status_code == 302
    logged_in = _cookie(client)
    assert logged_in and logged_in != anonymous
    checks.append("new cookie value at login")
    assert _replay(app, anonymous).get("/account").status_code == 302  # the pre-login cookie is not logged in
    checks.append("pre-login cookie not authenticated")

    assert _replay(app, logged_in).get("/account").status_code == 200  # (the copy works while logged in)
    assert auth.logout().status_code == 302
    assert client.get("/account").status_code == 302
    checks.append("logged out in the browser")
    stolen = _replay(app, logged_in).get("/account")
    assert stolen.status_code == 302 and "/login" in stolen.headers["Location"]
    checks.append("copied cookie dead after logout")

    # With "remember me": the long-lived cookie dies at logout too.
    token = auth.csrf("/login")
    response = client.post(
        "/login",
        data={"email": user.email, "password": "correct-horse-battery", "remember": "y", "csrf_token": token},
    )
    assert response.status_code == 302
    remember = _cookie(client, "remember_token")
    session = _cookie(client)
    assert remember and session != logged_in
    auth.logout()
    thief = _replay(app, remember, "remember_token")
    assert thief.get("/account").status_code == 302
    checks.append("remember-me cookie dead after logout")

    figure("session_cookie", len(checks), f"of {len(checks)} session checks passed ({'; '.join(checks)})")
