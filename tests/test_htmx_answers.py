"""Every htmx error answer is a message htmx swaps into the page's #flashes (never a silent 4xx)."""

from __future__ import annotations

from tests.practices.conftest import login

HX = {"HX-Request": "true", "HX-Current-URL": "http://portal.test/practices/5/billing"}


def assert_in_flashes(response, words: str) -> None:
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#flashes"
    assert words in response.get_data(as_text=True)


def test_a_post_after_signing_out_says_sign_in_again_with_a_way_back(client):
    response = client.post("/practices/5/billing/cancel", data={"reason": "x"}, headers=HX)
    assert_in_flashes(response, "You were signed out; sign in again.")
    assert 'href="/login?next=%2Fpractices%2F5%2Fbilling"' in response.get_data(as_text=True)


def test_a_get_after_signing_out_says_sign_in_again(client):
    assert_in_flashes(client.get("/practices/5/billing/status", headers=HX), "You were signed out")


def test_a_page_after_signing_out_still_goes_to_the_login_page(client):
    response = client.get("/account")
    assert response.status_code == 302 and "/login?next=" in response.location


def test_an_expired_form_and_a_missing_page_are_said(auth, user_factory):
    client = login(auth, user_factory())
    assert_in_flashes(client.post("/practices/5/billing/cancel", headers=HX), "Your form expired")
    assert_in_flashes(client.get("/no/such/page", headers=HX), "")
    plain = client.get("/no/such/page")
    assert plain.status_code == 404
