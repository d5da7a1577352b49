"""Issue 15: a renewal the bank wants confirmed (3-D Secure) is paid on the portal's own page.

Pay now tries the payment off-session; when the bank asks, it leads to the page (not a red error),
whose Stripe.js confirms the invoice's PaymentIntent and runs the challenge; the portal then reads
the invoice from Stripe and shows it paid. The "please confirm" email goes once per invoice.
Here the sandbox's client confirms and its control presses the challenge's buttons, as Stripe.js and
the person would; the browser test (tests/e2e/test_bank_check_journey.py) does it in Chromium.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.practices import bank_check, banners, cards, errors, history, members, subscriptions
from portal.practices.models import MemberRole
from portal.practices.status import BillingStatus
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login
from tests.practices.sandbox_helpers import save_card
from tests.practices.test_intents import rendered_form

#: Stripe's test cards as the sandbox's shortcuts: 3184 asks every time, 3155 only until set up.
ALWAYS_ASKS = "pm_card_authenticationRequired"  # 4000 0027 6000 3184
ASKS_UNTIL_SET_UP = "pm_card_authenticationRequiredOnSetup"  # 4000 0025 0000 3155


@pytest.fixture
def practice(owner, plans):
    return members.create_practice(owner, "Harbour Dental")


def save_card_with_3ds(sandbox, practice, card: str = ALWAYS_ASKS):
    """The wallet's SetupIntent, its challenge completed as the person would in the browser."""
    from portal.wallet import services as wallet

    secret = wallet.start_card_setup(cards.practice_wallet(practice))
    intent_id = secret.split("_secret_")[0]
    intent = sandbox.client().v1.setup_intents.confirm(intent_id, {"payment_method": card})
    assert intent.status == "requires_action"  # both cards ask when they are set up
    sandbox.authenticate(intent_id)
    return wallet.complete_card_setup(cards.practice_wallet(practice), intent_id)


def renewal_on(sandbox, inbox, practice, owner, card: str = ALWAYS_ASKS):
    saved = save_card_with_3ds(sandbox, practice, card)
    cards.make_default_card(practice, saved.stripe_id, owner)
    sandbox.advance(days=32)
    inbox.deliver()
    return saved


def confirm_in_browser(sandbox, check: bank_check.BankCheck, outcome: str = "complete") -> None:
    """What the page's Stripe.js does: confirmCardPayment(client secret, {payment_method}), then the
    person presses Complete (or Fail) in the bank's challenge."""
    intent_id = check.client_secret.split("_secret_")[0]
    intent = sandbox.client().v1.payment_intents.confirm(intent_id, {"payment_method": check.card.stripe_id})
    assert intent.status == "requires_action"
    sandbox.authenticate(intent_id, outcome)


def action_required_emails() -> int:
    db.session.rollback()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboundEmail)
        .where(OutboundEmail.template == "practice_action_required")
    )


def test_pay_now_on_a_renewal_the_bank_asks_about_leads_to_the_check_and_emails_once(
    sandbox, active, inbox, owner, mailbox
):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    assert practice.action_required_invoice_id == invoice.stripe_id
    assert [b["kind"] for b in banners.practice_banners(owner)] == ["action_required"]
    mailbox.wait_for(owner.email, "please confirm a payment")
    assert action_required_emails() == 1

    for _ in range(2):  # pressed twice: Stripe asks again each time, the managers are emailed once
        with pytest.raises(errors.BankCheckNeeded) as raised:
            subscriptions.pay_open_invoice(practice, owner)
        assert (raised.value.practice_id, raised.value.invoice_id) == (practice.id, invoice.stripe_id)
        assert "payment_action_required" in " ".join(inbox.deliver())
    assert action_required_emails() == 1
    assert practice.last_payment_error is None
    lines = [line.action for line in history.audit_page(practice).items]
    assert lines.count("action_required") == 1  # History says the email once too


def test_the_check_completed_pays_the_invoice(sandbox, active, inbox, owner):
    practice = active
    card = renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)

    check = bank_check.start(practice, invoice.stripe_id, owner)
    assert (check.invoice.stripe_id, check.card.stripe_id) == (invoice.stripe_id, card.stripe_id)
    assert check.client_secret.startswith("pi_")
    confirm_in_browser(sandbox, check)

    assert bank_check.finish(practice, invoice.stripe_id, owner) is None
    assert (
        bank_check.paid_words(practice, invoice.stripe_id) == f"Invoice {invoice.number} is paid. Thank you!"
    )
    db.session.refresh(invoice)
    assert invoice.status == "paid"
    assert practice.action_required_invoice_id is None
    assert practice.billing_status == BillingStatus.DONE
    assert banners.practice_banners(owner) == []
    assert bank_check.start(practice, invoice.stripe_id, owner) is None  # nothing left to confirm


def test_a_failed_challenge_says_so_and_can_be_tried_again(sandbox, active, inbox, owner):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)

    confirm_in_browser(sandbox, bank_check.start(practice, invoice.stripe_id, owner), "fail")
    assert bank_check.finish(practice, invoice.stripe_id, owner) == bank_check.NOT_CONFIRMED
    inbox.deliver()
    assert history.open_invoice(practice).stripe_id == invoice.stripe_id  # nothing was charged
    assert [b["kind"] for b in banners.practice_banners(owner)] == ["action_required"]

    confirm_in_browser(sandbox, bank_check.start(practice, invoice.stripe_id, owner))
    assert bank_check.finish(practice, invoice.stripe_id, owner) is None


def test_the_check_not_done_says_so(sandbox, active, inbox, owner):
    """Back on the page without the challenge done (no JavaScript, closed): not paid, and it says so."""
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    assert bank_check.finish(practice, invoice.stripe_id, owner) == bank_check.NOT_DONE


def test_only_managers_of_the_practice_open_the_check(sandbox, active, inbox, owner, user_factory):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    member = user_factory(name="Max Member")
    add_member(practice, member, MemberRole.MEMBER)
    with pytest.raises(errors.NotAllowed):
        bank_check.start(practice, invoice.stripe_id, member)
    other = members.create_practice(owner, "Other Clinic")
    with pytest.raises(errors.PracticeNotFound):  # another practice's invoice is no invoice there
        bank_check.start(other, invoice.stripe_id, owner)


def test_a_3155_card_set_up_with_3ds_renews_off_session_without_asking(sandbox, active, inbox, owner):
    practice = active
    renewal_on(sandbox, inbox, practice, owner, ASKS_UNTIL_SET_UP)
    assert practice.billing_status == BillingStatus.DONE
    assert practice.action_required_invoice_id is None
    assert history.open_invoice(practice) is None
    sandbox.advance(days=31)
    inbox.deliver()
    assert history.open_invoice(practice) is None
    assert banners.practice_banners(owner) == []


def test_a_3184_card_asks_at_every_renewal(sandbox, active, inbox, owner):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    first = history.open_invoice(practice)
    confirm_in_browser(sandbox, bank_check.start(practice, first.stripe_id, owner))
    assert bank_check.finish(practice, first.stripe_id, owner) is None
    inbox.deliver()

    sandbox.advance(days=31)
    inbox.deliver()
    second = history.open_invoice(practice)
    assert second is not None and second.stripe_id != first.stripe_id
    assert practice.action_required_invoice_id == second.stripe_id


def test_a_renewal_declined_with_authentication_required_asks_to_confirm(
    sandbox, active, inbox, owner, mailbox
):
    """The sandbox's decline hook with ``authentication_required`` on a renewal does what Stripe does
    for an invoice: the PaymentIntent waits for the payer and ``invoice.payment_action_required``
    comes, not ``invoice.payment_failed``. The clinic is asked to confirm, never told it failed."""
    practice = active
    card = save_card(sandbox, practice)
    cards.make_default_card(practice, card.stripe_id, owner)
    sandbox.decline_card(card.stripe_id, "authentication_required", charges=1)
    sandbox.advance(days=32)
    applied = inbox.deliver()
    assert "invoice.payment_action_required" in applied and "invoice.payment_failed" not in applied
    invoice = history.open_invoice(practice)
    assert practice.action_required_invoice_id == invoice.stripe_id
    assert practice.last_payment_error is None
    assert [b["kind"] for b in banners.practice_banners(owner)] == ["action_required"]
    mailbox.wait_for(owner.email, "please confirm a payment")

    check = bank_check.start(practice, invoice.stripe_id, owner)
    confirm_in_browser(sandbox, check)  # the bank asks again on the page, and is answered
    assert bank_check.finish(practice, invoice.stripe_id, owner) is None
    assert [m["Subject"] for m in mailbox.messages if "failed" in m["Subject"]] == []


# --- the pages -------------------------------------------------------------------------------------


def page_url(practice, invoice_id: str) -> str:
    return f"/practices/{practice.id}/invoices/{invoice_id}/authenticate"


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain form"])
def test_pay_now_answers_with_the_page_of_the_check_not_an_error(sandbox, active, inbox, owner, auth, htmx):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    client = login(auth, owner)
    form = rendered_form(client, practice)
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(f"/practices/{practice.id}/billing/pay", data=form, headers=headers)
    if htmx:
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == page_url(practice, invoice.stripe_id)
    else:
        assert response.status_code == 303
        assert response.headers["Location"] == page_url(practice, invoice.stripe_id)
    assert "declined" not in response.get_data(as_text=True)


def test_the_page_shows_the_amount_the_card_and_what_the_bank_asks(sandbox, active, inbox, owner, auth):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    client = login(auth, owner)
    banner_link = page_url(practice, invoice.stripe_id)
    assert f'href="{banner_link}">Complete authentication' in client.get("/practices/").get_data(as_text=True)

    page = client.get(banner_link).get_data(as_text=True)
    assert "Your bank needs you to confirm this payment" in page
    assert "$99.00" in page and "Visa ending in 3184" in page
    assert 'data-client-secret="pi_' in page and 'data-autostart="true"' in page
    assert "needs\n    JavaScript" in page or "needs JavaScript" in page  # the noscript words
    assert "<script>" not in page  # the CSP allows no inline script

    # Posted back with the check not done: the words, and the page again without starting by itself.
    form = {"csrf_token": extract_csrf(page)}
    response = client.post(banner_link, data=form)
    assert response.status_code == 303 and response.headers["Location"] == f"{banner_link}?tried=1"
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The payment is not confirmed yet" in again and 'data-autostart="false"' in again


def test_the_page_after_the_check_shows_the_invoice_paid(sandbox, active, inbox, owner, auth):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    client = login(auth, owner)
    page = client.get(page_url(practice, invoice.stripe_id)).get_data(as_text=True)
    confirm_in_browser(sandbox, bank_check.start(practice, invoice.stripe_id, owner))

    response = client.post(page_url(practice, invoice.stripe_id), data={"csrf_token": extract_csrf(page)})
    assert response.headers["Location"] == f"/practices/{practice.id}/billing"
    billing = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Invoice {invoice.number} is paid. Thank you!" in billing
    assert 'data-banner="action_required"' not in billing


def test_a_member_or_another_practice_cannot_open_it(sandbox, active, inbox, owner, auth, user_factory):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    other = members.create_practice(owner, "Other Clinic")
    client = login(auth, owner)
    assert client.get(page_url(other, invoice.stripe_id)).status_code == 404
    member = user_factory(name="Max Member")
    add_member(practice, member, MemberRole.MEMBER)
    auth.logout()
    assert login(auth, member).get(page_url(practice, invoice.stripe_id)).status_code == 403


def test_an_invoice_its_ended_subscription_left_open_is_not_confirmed(sandbox, active, inbox, owner):
    """Stripe gave up while the portal could not mark the invoice uncollectible: Stripe still has it
    open, but the page refuses it as Pay now does, and nothing is charged (an older email's link)."""
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    practice.subscription_status = "canceled"  # the end applied; settling it at Stripe failed
    practice.refresh_billing_status()
    db.session.commit()

    with pytest.raises(bank_check.CannotConfirm) as refused:
        bank_check.start(practice, invoice.stripe_id, owner)
    assert refused.value.message == errors.NOT_COLLECTED
    with pytest.raises(bank_check.CannotConfirm):
        bank_check.finish(practice, invoice.stripe_id, owner)
    at_stripe = sandbox.client().v1.invoices.retrieve(invoice.stripe_id)
    assert (at_stripe.status, at_stripe.amount_paid) == ("open", 0)


def test_a_closed_practice_confirms_nothing(sandbox, active, inbox, owner):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    practice.deactivated = True
    db.session.commit()
    with pytest.raises(bank_check.CannotConfirm) as refused:
        bank_check.start(practice, invoice.stripe_id, owner)
    assert refused.value.message == errors.CLOSED


def test_a_voided_invoices_link_says_there_is_nothing_to_pay(sandbox, active, inbox, owner, auth, client):
    practice = active
    renewal_on(sandbox, inbox, practice, owner)
    invoice = history.open_invoice(practice)
    sandbox.client().v1.invoices.void_invoice(invoice.stripe_id)
    login(auth, owner)
    response = client.get(f"/practices/{practice.id}/invoices/{invoice.stripe_id}/authenticate")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Invoice {invoice.number} was voided: there is nothing to pay." in page
