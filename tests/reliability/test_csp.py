"""Figure 11: every HTML page carries the Content-Security-Policy, and Chromium reports no violation
on the card page (account, add card) nor on Checkout (reached from a practice's Subscribe).
"""

from __future__ import annotations

import re

import pytest
from flask import url_for
from playwright.sync_api import expect

from portal.auth import services as accounts
from tests.conftest import AuthActions, IsolatedClient
from tests.e2e.conftest import live_portal_factory, page, screenshot  # noqa: F401  (fixtures)
from tests.e2e.steps import add_card, fill_checkout_address
from tests.reliability.test_object_routes import NOT_OBJECTS, fill
from tests.reliability.world import build_world

PASSWORD = "csp-password-123"
#: Report every violation on the page and in its frames (Chromium also logs "Refused to ...").
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI);
});
"""


def _urls(app, world) -> list[tuple[str, str]]:
    """(endpoint, url) for every GET route, its arguments filled with the owner's objects."""
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        with app.test_request_context():
            values = fill(rule, world)
            values.update({arg: "not-a-real-token" for arg in rule.arguments & NOT_OBJECTS})
            urls.append((rule.endpoint, url_for(rule.endpoint, **values)))
    return urls


def test_every_html_page_has_the_csp(app, sandbox, figure):
    world = build_world(sandbox)
    visitors = {}
    for name, email in (("anonymous", None), ("owner", world.owner.email), ("admin", world.admin.email)):
        client = IsolatedClient(app, app.response_class, use_cookies=True)
        if email:
            assert AuthActions(client).login(email).status_code == 302
        visitors[name] = client

    html, missing, private, stored = [], [], [], []
    for _endpoint, url in [*_urls(app, world), ("(not found)", "/no-such-page")]:
        for name, client in visitors.items():
            response = client.get(url, follow_redirects=True)
            if response.mimetype != "text/html":
                continue
            html.append(f"{name} {url}")
            if "default-src 'self'" not in response.headers.get("Content-Security-Policy", ""):
                missing.append(f"{name} {url} {response.status_code}")
            # Signed in, or a form with a CSRF token: no cache may keep it (Back shows it afresh).
            if name != "anonymous" or 'name="csrf_token"' in response.get_data(as_text=True):
                private.append(f"{name} {url}")
                if response.headers.get("Cache-Control") != "no-store":
                    stored.append(f"{name} {url} {response.status_code}")
    assert missing == []
    assert stored == []
    assert len({seen.split(" ", 1)[1] for seen in html}) >= 15
    figure(
        "csp_headers",
        len(html),
        f"HTML responses (anonymous, owner, admin; every GET route), {len(missing)} "
        "without the Content-Security-Policy",
    )
    figure(
        "no_store",
        len(stored),
        f"of {len(private)} signed-in or form-bearing HTML responses (every GET route) "
        "without Cache-Control: no-store",
    )


@pytest.mark.e2e
def test_no_csp_violation_on_the_card_and_checkout_pages(page, live_portal_factory, screenshot, figure):  # noqa: F811
    portal = live_portal_factory()
    with portal.app.test_request_context():
        from portal.practices.plans import bootstrap_plans

        accounts.register_user("Cass Csp", "cass@example.com", PASSWORD)
        bootstrap_plans()
    base = portal.url
    page.context.add_init_script(REPORT_VIOLATIONS)
    violations: list[str] = []
    visited: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("cass@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/account")

    # The card page: the Stripe.js card element in its frame, a card saved.
    add_card(page, "4242424242424242")
    expect(page.get_by_role("list", name="Saved cards")).to_contain_text("ending in 4242")
    screenshot("account_cards")
    visited.append("account (add card)")

    # Checkout, from the practice's Subscribe.
    page.goto(f"{base}/practices/")
    page.get_by_label("Practice name").fill("Policy Dental")
    page.get_by_role("button", name="Create practice").click()
    expect(page).to_have_url(re.compile(r"/practices/\d+/billing$"))
    visited.append("practice billing")
    page.get_by_label(re.compile("Monthly")).check()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    visited.append("checkout")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiration date").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Name on card").fill("Cass Csp")
    fill_checkout_address(page)
    page.get_by_role("button", name="Pay").click()
    expect(page.locator('[data-billing-status="DONE"]')).to_be_visible()
    visited.append("back to billing, paid")

    assert violations == []
    # The listener is not deaf: an inline script (not allowed by script-src) is reported.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = '1'; "
        "document.body.appendChild(s); }"
    )
    page.wait_for_timeout(300)
    assert any("script-src" in v for v in violations), violations
    figure(
        "csp_browser",
        len(visited),
        f"Chromium pages checked ({', '.join(visited)}), "
        "0 CSP violations (an injected inline script is caught)",
    )
