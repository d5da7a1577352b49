"""Figure: redirects off-site from a corpus of known ``next`` bypasses, through the real login (0).

Each payload is sent as ``/login?next=...`` with the right password, from a fresh browser session;
the Location the portal answers is read the way a browser reads it.
"""

from __future__ import annotations

from tests.auth.conftest import cookie_client, submit
from tests.edges.redirect_payloads import LOCAL_TARGETS, OFF_SITE_PAYLOADS, as_query, leaves_the_site
from tests.factories import DEFAULT_PASSWORD as PASSWORD


def test_no_next_payload_redirects_off_site(app, user, figure):
    off_site, errors = [], []
    credentials = {"email": user.email, "password": PASSWORD}
    for payload in OFF_SITE_PAYLOADS:
        client = cookie_client(app)
        response = submit(client, "/login" + as_query(payload), credentials)
        if response.status_code != 302:
            errors.append((payload, response.status_code))
        elif leaves_the_site(response.headers["Location"]):
            off_site.append((payload, response.headers["Location"]))
        # Logged in all the same: the redirect fell back to the account page.
        assert client.get("/account").status_code == 200
    followed = [
        target
        for target in LOCAL_TARGETS
        if submit(cookie_client(app), "/login" + as_query(target), credentials).headers.get("Location")
        == target
    ]
    assert errors == []
    assert off_site == []
    assert followed == LOCAL_TARGETS
    assert len(OFF_SITE_PAYLOADS) >= 30
    figure(
        "open_redirects",
        len(off_site),
        f"redirects off-site from a corpus of {len(OFF_SITE_PAYLOADS)} `next` payloads "
        f"(correct password each; {len(LOCAL_TARGETS)} local targets still followed)",
    )
