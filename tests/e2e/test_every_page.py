"""Every page of the portal (``portal.pages.PAGES``), for each role that sees it, in Chromium at a
desktop's width and at two phones' (1280, 390 and 320 px): no sideways scrolling, no serious or
critical axe-core violation (WCAG 2.0/2.1/2.2 A and AA), no console error, no duplicate element id.

axe-core comes from its npm package (``tests/e2e/axe/``, installed by ``make test``); it is run in
the page through the DevTools protocol, so the portal's CSP (script-src 'self') stays as it is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import Counter

import pytest
from flask import url_for

from portal.pages import ADMIN, MEMBER, OWNER, PAGES, VISITOR, Page
from portal.practices.models import MemberRole
from portal.practices.status import BillingStatus
from portal.users.models import Role
from tests import factories as f
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.page_checks import AXE, check_view

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390, 320)
HEIGHTS = {1280: 900, 390: 844, 320: 640}
#: Phone views kept in docs/screenshots (README shows them): role, endpoint, width.
PHONE_SHOTS = {
    (OWNER, "practices.billing", 390): "phone_practice_billing",
    (OWNER, "practices.history", 390): "phone_practice_history",
    (OWNER, "auth.account", 390): "phone_account",
    (MEMBER, "practices.billing", 320): "phone_member_billing_320",
    (ADMIN, "admin.practice_list", 390): "phone_admin_practices",
    (VISITOR, "auth.login", 320): "phone_login_320",
}

#: The same pages in another state worth a look: a practice still to subscribe (the plan choice,
#: its pending invitation), as its owner sees it.
OTHER_STATES = (
    Page("practices.billing", frozenset({OWNER}), {"practice_id": "second_practice"}),
    Page("practices.members", frozenset({OWNER}), {"practice_id": "second_practice"}),
)

#: A practice name and an email with no space to break a line at (a person may type either).
LONG_NAME = "Harbour" + "X" * 59 + "Dental"  # 72 characters
LONG_EMAIL = "dr.maximilian.alexander.longname-surname.the-third@very-long-clinic-domain.example.com"


def build_world(app) -> dict[str, object]:
    """The people and things every page shows: a past-due practice with invoices, cards and a
    History of every kind of line, a second practice needing billing, an order, an event..."""
    with app.test_request_context():
        from portal.auth import tokens
        from portal.practices.invitations import invitation_link

        owner = f.UserFactory(name="Olive Owner", email="olive@example.com", with_customer=True)
        member = f.UserFactory(name="Max Member", email="max@example.com", with_customer=True)
        admin = f.UserFactory(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)
        visitor = f.UserFactory(name="Vera Visitor", email="vera@example.com")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        practice = f.PracticeFactory(
            name="Harbour Dental of the Very Long Name Street",
            owner=owner,
            billing_status=BillingStatus.PAST_DUE,
            subscription_status="past_due",
            stripe_subscription_id="sub_test_harbour",
            plan=_monthly(),
            current_period_start=now - dt.timedelta(days=20),
            current_period_end=now + dt.timedelta(days=10),
            onboarding_paid_at=now - dt.timedelta(days=50),
            last_payment_error="Your card has insufficient funds.",
        )
        f.PracticeMemberFactory(practice=practice, user=member, role=MemberRole.MEMBER)
        second = f.PracticeFactory(name="Second Clinic", owner=owner)
        # Names and emails as long as a person may type them, without a space to break at.
        f.PracticeFactory(name=LONG_NAME, owner=owner)
        long_email = f.UserFactory(name="Dr Lengthy", email=LONG_EMAIL)
        f.PracticeMemberFactory(practice=practice, user=long_email, role=MemberRole.ADMIN)
        open_invoice = f.PracticeInvoiceFactory(practice=practice, status="open", amount_due=9900)
        for _ in range(3):
            f.PracticeInvoiceFactory(practice=practice)
        card = f.PaymentMethodFactory(customer_id=practice.stripe_customer_id, is_default=True, last4="4242")
        f.PaymentMethodFactory(customer_id=practice.stripe_customer_id, brand="mastercard", last4="4444")
        f.PaymentMethodFactory(customer_id=owner.stripe_customer_id, is_default=True)
        for brand, last4 in (("mastercard", "4444"), ("amex", "8431"), ("discover", "1117")):
            f.PaymentMethodFactory(customer_id=owner.stripe_customer_id, brand=brand, last4=last4)  # 4 cards
        _history(practice, owner, card.stripe_id)
        invitation = f.PracticeInvitationFactory(practice=second, invited_by=owner, email=member.email)
        product = f.ProductFactory(name="Digital thermometer with a long product name")
        order = f.OrderFactory(user=owner, product=product, card_brand="visa", card_last4="4242")
        event = f.WebhookEventFactory(type="invoice.payment_failed", object_id=practice.stripe_customer_id)
        return {
            "people": {OWNER: owner.email, MEMBER: member.email, ADMIN: admin.email},
            "practice": practice.id,
            "second_practice": second.id,
            "open_invoice": open_invoice.stripe_id,
            "product": product.id,
            "order": order.id,
            "event": event.id,
            "reset_token": tokens.make_reset_token(visitor),
            "verify_token": tokens.make_verify_token(owner),
            "email_change_token": tokens.make_email_change_token(owner, "olive.new@example.com"),
            "invitation_token": invitation_link(invitation).rsplit("/", 1)[1],
        }


def _monthly():
    from portal.practices.models import Plan

    return Plan.MONTHLY


def _history(practice, owner, card_id: str) -> None:
    lines = [
        ("practice_created", practice.name, owner),
        ("checkout_started", "Monthly, session cs_test_a1B2c3D4e5F6g7H8i9J0", owner),
        ("onboarding_paid", "cs_test_a1B2c3D4e5F6g7H8i9J0", None),
        ("onboarding_paid", "in_test_1PqRsTuVwXyZ", None),
        ("subscription_started", "sub_test_harbour", None),
        ("status_changed", "REQUIRED → DONE", None),
        ("default_card_changed", card_id, owner),
        ("member_invited", "max@example.com as MemberRole.MEMBER", owner),
        ("payment_failed", "in_test_2AbCdEf: Your card has insufficient funds.", None),
        ("status_changed", "DONE → PAST_DUE", None),
        ("cancel_requested", "Moving to another provider", None),  # the person's account was deleted
    ]
    base = dt.datetime(2026, 11, 1, 9, 0)
    for minutes, (action, detail, actor) in enumerate(lines):
        f.BillingAuditEntryFactory(
            practice=practice,
            action=action,
            detail=detail,
            actor=actor,
            created_at=base + dt.timedelta(minutes=minutes),
        )


def page_url(app, base: str, page, world: dict) -> str:
    with app.test_request_context():
        args = {name: world[source] for name, source in page.args.items()}
        return base + url_for(page.endpoint, **args, **page.query)


@pytest.fixture
def figure(request):
    """Print a count in the test report (``FIGURE ...``), as tests/reliability's figures are."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def report(name: str, what: str) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            line = f"FIGURE {name}: {what}"
            if reporter is not None:
                reporter.ensure_newline()
                reporter.write_line(line)
            else:
                print(line)

    return report


@pytest.fixture(scope="module")
def axe_installed() -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make test` (npm ci in tests/e2e/axe)")


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(f.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/account")


@pytest.mark.parametrize("role", [VISITOR, MEMBER, OWNER, ADMIN])
def test_every_page_fits_phones_and_passes_axe(role, browser, live_portal_factory, axe_installed, figure):
    portal = live_portal_factory()
    world = build_world(portal.app)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    console: list[str] = []
    page.on("console", lambda message: message.type == "error" and console.append(message.text))
    page.on("pageerror", lambda error: console.append(str(error)))
    if role != VISITOR:
        log_in(page, portal.url, world["people"][role])

    pages = [p for p in PAGES + OTHER_STATES if role in p.roles]
    problems: dict[str, list[str]] = {}
    visits = 0
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHTS[width]})
        for listed in pages:
            console.clear()
            url = page_url(portal.app, portal.url, listed, world)
            response = page.goto(url)
            page.wait_for_load_state("load")
            found = check_view(page)
            if response is None or response.status >= 500:
                found.append(f"answered {response.status if response else 'nothing'}")
            found += [f"console: {text}" for text in console]
            visits += 1
            if found:
                problems[f"{listed.endpoint} {dict(listed.args)} @{width}"] = found
            shot = PHONE_SHOTS.get((role, listed.endpoint, width))
            if shot:
                page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)
    context.close()

    figure(
        f"every page as {role}",
        f"{visits} views ({len(pages)} pages x {len(WIDTHS)} widths), {len(problems)} with a problem "
        "(overflow, serious/critical axe-core violations, console errors, duplicate ids)",
    )
    assert problems == {}, json.dumps(problems, indent=1)


def test_every_page_is_listed_once():
    counts = Counter(p.endpoint for p in PAGES)
    assert [endpoint for endpoint, n in counts.items() if n > 1] == []
