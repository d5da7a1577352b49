"""Which language a page is in, the header's switcher, and the profile's time zone."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.extensions import db
from portal.i18n import LOCALE_COOKIE, default_practice_timezone, select_locale
from portal.practices.members import create_practice
from tests.conftest import extract_csrf
from tests.factories import PracticeFactory

UNKNOWN_LOCALE = "The portal is not written in that language. Choose one of: English, Tiếng Việt."


def chosen_cookie(client) -> str | None:
    cookie = client.get_cookie(LOCALE_COOKIE, domain="portal.test")
    return cookie.value if cookie else None


def page_language(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


@pytest.mark.parametrize(
    ("accept_language", "chosen"),
    [
        ("vi-VN,vi;q=0.9", "vi"),
        ("vi", "vi"),
        ("en-US,en;q=0.9,vi;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,de;q=0.5", "en"),  # none we have: English
        ("", "en"),
    ],
)
def test_the_browser_language_picks_among_english_and_vietnamese(app, accept_language, chosen):
    with app.test_request_context("/", headers={"Accept-Language": accept_language}):
        assert select_locale() == chosen


def test_a_page_reads_in_the_browser_language(client):
    response = client.get("/login", headers={"Accept-Language": "vi-VN,vi;q=0.9"})
    assert page_language(response) == "vi"
    assert "Đổi ngôn ngữ" in response.get_data(as_text=True)  # the switcher's button, translated
    assert page_language(client.get("/login", headers={"Accept-Language": "ja"})) == "en"


def test_a_saved_preference_beats_the_browser(user, logged_in):
    user.locale = "vi"
    db.session.commit()
    response = logged_in.get("/account", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert page_language(response) == "vi"


def switch(
    client, locale: str, *, page: str = "/login", token: str | None = None, next_page: str | None = None
):
    token = extract_csrf(client.get(page).get_data(as_text=True)) if token is None else token
    data = {"locale": locale, "next": next_page or page}
    if token:
        data["csrf_token"] = token
    return client.post("/locale", data=data)


def test_a_visitor_switches_with_a_cookie(client):
    response = switch(client, "vi")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert chosen_cookie(client) == "vi"
    # The choice beats the browser's language from then on.
    assert page_language(client.get("/login", headers={"Accept-Language": "en"})) == "vi"
    switch(client, "en")
    assert page_language(client.get("/login", headers={"Accept-Language": "vi"})) == "en"


def test_a_signed_in_person_switches_for_good(user, logged_in):
    response = switch(logged_in, "vi", page="/account")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert chosen_cookie(logged_in) == "vi"  # kept after a log-out
    db.session.refresh(user)
    assert user.locale == "vi"
    logged_in.delete_cookie(LOCALE_COOKIE, domain="portal.test")  # another browser: the account remembers
    assert page_language(logged_in.get("/account", headers={"Accept-Language": "en"})) == "vi"


def test_switching_needs_the_csrf_token(client):
    response = switch(client, "vi", token="")
    assert response.status_code == 400
    assert chosen_cookie(client) is None


def test_an_unknown_language_is_refused_in_words(user, logged_in):
    response = switch(logged_in, "fr", page="/account")
    assert response.status_code == 400
    assert UNKNOWN_LOCALE in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.locale is None
    assert chosen_cookie(logged_in) is None


def test_the_switcher_goes_back_only_to_a_page_of_ours(client):
    response = switch(client, "vi", next_page="//evil.example/phish")
    assert response.status_code == 303 and response.headers["Location"] == "/"


def profile_post(client, user, **fields):
    token = extract_csrf(client.get("/account/profile").get_data(as_text=True))
    return client.post(
        "/account/profile", data={"name": user.name, "email": user.email, "csrf_token": token, **fields}
    )


def test_the_profile_saves_a_time_zone(user, logged_in):
    page = logged_in.get("/account/profile").get_data(as_text=True)
    assert '<option value="Asia/Ho_Chi_Minh">Asia/Ho Chi Minh</option>' in page
    assert profile_post(logged_in, user, timezone="Asia/Ho_Chi_Minh").status_code == 302
    db.session.refresh(user)
    assert user.timezone == "Asia/Ho_Chi_Minh"
    assert '<option selected value="Asia/Ho_Chi_Minh">' in logged_in.get("/account/profile").get_data(
        as_text=True
    )
    assert profile_post(logged_in, user, timezone="").status_code == 302
    db.session.refresh(user)
    assert user.timezone is None


def test_the_profile_refuses_an_unknown_time_zone(user, logged_in):
    response = profile_post(logged_in, user, timezone="Mars/Olympus_Mons")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "“Mars/Olympus_Mons” is not a time zone we know. Choose one from the list" in text
    db.session.refresh(user)
    assert user.timezone is None


def test_a_vietnamese_practice_reads_in_vietnam_time(app, user):
    assert default_practice_timezone(country="VN") == "Asia/Ho_Chi_Minh"
    assert default_practice_timezone(country="US") is None
    user.locale = "vi"
    db.session.commit()
    assert create_practice(user, "Phòng khám Sài Gòn").timezone == "Asia/Ho_Chi_Minh"


def test_a_practice_page_writes_days_in_the_practice_zone(user, logged_in):
    """A renewal at 23:30 UTC on 22 November is on the 23rd in Ho Chi Minh City, whoever reads it."""
    renews = dt.datetime(2026, 11, 22, 23, 30)
    fields = {
        "stripe_subscription_id": "sub_tz",
        "subscription_status": "active",
        "current_period_end": renews,
    }
    saigon = PracticeFactory(owner=user, timezone="Asia/Ho_Chi_Minh", **fields)
    london = PracticeFactory(
        owner=user, name="Thames Clinic", **{**fields, "stripe_subscription_id": "sub_tz2"}
    )
    assert "23 Nov 2026" in logged_in.get(f"/practices/{saigon.id}/billing").get_data(as_text=True)
    assert "22 Nov 2026" in logged_in.get(f"/practices/{london.id}/billing").get_data(as_text=True)
    # A practice without a zone reads in the person's...
    user.timezone = "Asia/Tokyo"
    db.session.commit()
    assert "23 Nov 2026" in logged_in.get(f"/practices/{london.id}/billing").get_data(as_text=True)
    # ...unless its address is in Vietnam (Vietnam's time, whoever reads it).
    user.timezone = "America/Los_Angeles"
    london.address_country = "VN"
    db.session.commit()
    assert "23 Nov 2026" in logged_in.get(f"/practices/{london.id}/billing").get_data(as_text=True)
