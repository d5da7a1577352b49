"""``Cache-Control: no-store`` on what a signed-in person sees and on pages with a form (finding 14).

Without it Back (or a shared proxy) shows a page from the cache: a practice's billing state
from before a payment, or an account's cards after logging out.
"""

from __future__ import annotations

from portal.auth import api_tokens as tokens
from tests.conftest import IsolatedClient
from tests.practices.conftest import make_practice


def test_every_signed_in_page_is_no_store(logged_in, user):
    practice = make_practice(user)
    billing = f"/practices/{practice.id}/billing"
    for path in ("/account", "/account/profile", billing, "/practices/", "/nowhere"):
        response = logged_in.get(path)
        assert response.headers.get("Cache-Control") == "no-store", (path, response.status_code)


def test_a_page_with_a_form_is_no_store_even_signed_out(client):
    for path in ("/login", "/register", "/forgot-password"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path


def test_api_answers_with_a_token_or_to_a_token_are_no_store(app, user):
    client = IsolatedClient(app, app.response_class)
    token = client.post("/auth/login", json={"email": user.email, "password": "correct-horse-battery"})
    assert token.status_code == 200 and token.headers.get("Cache-Control") == "no-store"
    bearer = {"Authorization": f"Bearer {tokens.issue_token(user)}"}
    me = client.get(f"/users/{user.id}", headers=bearer)
    assert me.status_code == 200 and me.headers.get("Cache-Control") == "no-store"


def test_static_files_and_public_pages_stay_cacheable(app, logged_in):
    assert "no-store" not in (logged_in.get("/static/css/app.css").headers.get("Cache-Control") or "")
    anonymous = IsolatedClient(app, app.response_class)
    assert "no-store" not in (anonymous.get("/openapi.json").headers.get("Cache-Control") or "")
