"""Figure: redirects off-site from a corpus of known ``next`` bypasses, through the real login (0).

Each payload is sent as ``/login?next=...`` with the right password, from a fresh browser session;
the Location the portal answers is read the way a browser reads it. An address holding a NUL is
refused outright (400) before the login page is drawn: nothing to redirect.
"""

from __future__ import annotations

from tests.auth.conftest import cookie_client
from tests.conftest import extract_csrf
from tests.edges.redirect_payloads import LOCAL_TARGETS, OFF_SITE_PAYLOADS, as_query, leaves_the_site
from tests.factories import DEFAULT_PASSWORD as PASSWORD


def _log_in(app, user, target: str):
    """(login page, answer to the form) for a login asked to go on to ``target``."""
    client = cookie_client(app)
    path = "/login" + as_query(target)
    page = client.get(path)
    if page.status_code != 200:
        return page, None
    token = extract_csrf(page.get_data(as_text=True))
    answer = client.post(path, data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert client.get("/account").status_code == 200  # logged in, wherever the redirect went
    return page, answer


def test_no_next_payload_redirects_off_site(app, user, figure):
    off_site, refused, errors = [], [], []
    for payload in OFF_SITE_PAYLOADS:
        page, answer = _log_in(app, user, payload)
        if answer is None:
            refused.append(payload)
            assert page.status_code == 400 and "\x00" in payload, (payload, page.status_code)
        elif answer.status_code != 302:
            errors.append((payload, answer.status_code))
        elif leaves_the_site(answer.headers["Location"]):
            off_site.append((payload, answer.headers["Location"]))
    followed = [t for t in LOCAL_TARGETS if _log_in(app, user, t)[1].headers["Location"] == t]
    assert errors == []
    assert off_site == []
    assert followed == LOCAL_TARGETS
    assert len(OFF_SITE_PAYLOADS) >= 30
    figure(
        "open_redirects",
        len(off_site),
        f"redirects off-site from a corpus of {len(OFF_SITE_PAYLOADS)} `next` payloads (correct password "
        f"each: {len(OFF_SITE_PAYLOADS) - len(refused)} sent to /account, {len(refused)} refused with 400 "
        f"for a NUL; {len(LOCAL_TARGETS)} local targets still followed)",
    )
