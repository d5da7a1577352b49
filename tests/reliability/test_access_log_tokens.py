"""Figure: account-link tokens written to the access log under ``make run`` (0).

The portal runs as ``make run`` serves it (gunicorn.conf.py, 2 workers). A person registers,
asks for a password reset and an email change, and follows each emailed link (verify,
email change, reset: GET and POST), with the Referer a browser sends from those pages and a
Stripe-style return URL carrying a client secret. Every token and secret must be absent from
gunicorn's access log, which must still show the requests (with ``[redacted]``). The same holds
for the werkzeug development server's request log, and for every ``<token>`` route the app has.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time

import requests

from portal.access_log import REDACTED, TOKEN_ROUTES, redact_urls
from tests.factories import DEFAULT_PASSWORD
from tests.reliability.test_throttle_workers import make_run_portal
from tests.serving import portal_server

LINK = re.compile(r"https?://[^/\s\"<]+(/(?:reset-password|account/email|verify-email)/[^\s\"<]+)")
CLIENT_SECRET = "pi_3Redact_secret_Zq8vX2mJ7"
ACCOUNT_LINK_ROUTES = ("/reset-password/", "/account/email/", "/verify-email/")


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _post_form(session: requests.Session, url: str, path: str, data: dict) -> requests.Response:
    token = _csrf(session.get(f"{url}{path}", timeout=30).text)
    return session.post(f"{url}{path}", data={**data, "csrf_token": token}, allow_redirects=False, timeout=30)


def _emailed_links(url: str) -> list[str]:
    inbox = html.unescape(requests.get(f"{url}/dev/inbox", timeout=30).text)
    return list(dict.fromkeys(LINK.findall(inbox)))


def _follow_every_link(url: str) -> list[str]:
    """Register, ask for an email change and a reset, follow each link as a browser would: the
    secrets that crossed the wire in a URL."""
    person = requests.Session()
    email, password = "logged@example.com", DEFAULT_PASSWORD
    register = {"name": "Log Reader", "email": email, "password": password, "confirm": password}
    assert _post_form(person, url, "/register", register).status_code == 302
    assert _post_form(person, url, "/login", {"email": email, "password": password}).status_code == 302
    change = {"name": "Log Reader", "email": "moved@example.com", "current_password": password}
    assert _post_form(person, url, "/account/profile", change).status_code == 302
    assert _post_form(requests.Session(), url, "/forgot-password", {"email": email}).status_code == 302
    deadline = time.monotonic() + 10  # the reset email is queued once its page has answered
    links = _emailed_links(url)
    while not any(link.startswith("/reset-password/") for link in links) and time.monotonic() < deadline:
        time.sleep(0.1)
        links = _emailed_links(url)
    assert {link.split("/")[1] for link in links} >= {"reset-password", "verify-email", "account"}, links
    for path in links:
        if path.startswith("/reset-password/"):
            new = "a-new-long-password-3"
            page = person.get(f"{url}{path}", timeout=30)
            assert page.status_code == 200
            form = {"password": new, "confirm": new, "csrf_token": _csrf(page.text)}
            assert (
                person.post(f"{url}{path}", data=form, allow_redirects=False, timeout=30).status_code == 302
            )
        else:
            assert person.get(f"{url}{path}", allow_redirects=False, timeout=30).status_code == 302
        # What a browser then sends for the page's stylesheet: the link again, as the Referer.
        person.get(f"{url}/static/css/app.css", headers={"Referer": f"{url}{path}"}, timeout=30)
    person.get(f"{url}/shop/?payment_intent_client_secret={CLIENT_SECRET}", timeout=30)
    return [path.rsplit("/", 1)[1] for path in links] + [CLIENT_SECRET]


def test_no_token_in_the_make_run_access_log(tmp_path, sandbox, figure):
    with make_run_portal(tmp_path, sandbox.url) as url:
        secrets = _follow_every_link(url)
    log = (tmp_path / "gunicorn.log").read_text()
    leaked = [secret for secret in secrets if secret in log]
    assert leaked == [], [line for line in log.splitlines() if any(s in line for s in leaked)][:5]
    for route in ACCOUNT_LINK_ROUTES:  # the invitation route: test_every_token_route_is_redacted
        assert f"{route}{REDACTED}" in log, f"no redacted {route} request in the access log"
    figure(
        "tokens_in_access_log",
        len(leaked),
        f"account-link tokens and client secrets in the make run access log, of {len(secrets)} sent "
        "in URLs (reset, email change, verify: path, Referer, query)",
    )


def test_every_token_route_is_redacted(app):
    """A new ``<token>`` route is covered without touching the redactor's list."""
    token_rules = [rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]
    assert token_rules
    for rule in token_rules:
        path = rule.rule.replace("<token>", "eyJ1aWQiOjF9.aw0SYQ.G1tqcNnP8DyR0wIw3Qiede")
        assert redact_urls(f"GET {path} HTTP/1.1") == f"GET {path.rsplit('/', 1)[0]}/{REDACTED} HTTP/1.1"
        assert rule.rule.rsplit("<", 1)[0] in TOKEN_ROUTES, f"{rule.rule}: add it to TOKEN_ROUTES"


def test_no_token_in_the_development_server_log(app, caplog):
    """``flask run`` (werkzeug's server) logs each request line; the token is redacted there too."""
    server = portal_server(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = "eyJ1aWQiOjEsInB3IjoiYmI3In0.aw0SYQ.G1tqcNnP8DyR0wIw3QiedeWku4s"
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            requests.get(f"http://127.0.0.1:{server.port}/reset-password/{token}", timeout=30)
    finally:
        server.shutdown()
        thread.join(timeout=5)
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any(f"/reset-password/{REDACTED}" in line for line in lines), lines
    assert not any(token in line for line in lines), lines


ENCODED_ROUTES = [
    "/reset%2Dpassword/{token}",
    "/%72eset-password/{token}",
    "/reset%2dpassword%2F{token}",
    "/account/%65mail/{token}",
    "/%76erify-email/{token}",
]


def test_percent_encoded_token_routes_are_redacted(app):
    """gunicorn logs the request line as sent: a path that werkzeug decodes to a token route (and
    routes: each of these reaches it) is redacted as that route; the line stays readable
    (unreserved characters decoded, nothing else)."""
    token = "Zq8vX2mJ7pLainTokenWithoutDots"
    client = app.test_client()
    for route in ENCODED_ROUTES:
        raw = route.format(token=token)
        assert client.get(raw).status_code != 404, raw
        line = redact_urls(f'127.0.0.1 - - "GET {raw} HTTP/1.1" 200 - "https://portal.test{raw}"')
        assert token not in line, line
        assert REDACTED in line and "%2D" not in line.upper(), line
    assert redact_urls("GET /shop/?q=a%0Ab%2Dc HTTP/1.1") == "GET /shop/?q=a%0Ab-c HTTP/1.1"
