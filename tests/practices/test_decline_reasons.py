"""Each decline reason, end to end: a practice's renewal is declined on its saved card for reason X
(the sandbox's test hook, since Stripe's decline test cards are refused when saved), and the banner,
the billing page and the payment-failed email each say X's words and what to do.

Stripe's ``invoice.payment_failed`` carries no ``payments`` (includable, never in events): the portal
reads the reason from the PaymentIntent's ``last_payment_error`` with the expand Stripe needs.
"""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from portal.practices import members
from portal.practices.notifications import DECLINE_REASONS
from portal.practices.status import BillingStatus
from tests.practices.conftest import login
from tests.practices.sandbox_helpers import Inbox, renew_on_card, save_card, subscribe_directly
from tests.smtp import body_text

#: The reasons the sandbox's hook can force, and whether Stripe's Smart Retries try the card again.
REASONS = {
    "generic_decline": True,
    "insufficient_funds": True,
    "lost_card": False,
    "stolen_card": False,
    "expired_card": True,
    "incorrect_cvc": True,
    "processing_error": True,
    "do_not_honor": True,
    "card_velocity_exceeded": True,
    "fraudulent": False,
    "transaction_not_allowed": True,
}
# ``authentication_required`` is no decline of a renewal: the bank asks the payer to confirm it
# (tests/practices/test_bank_check.py).


@pytest.fixture
def practice(owner, runner):
    result = runner.invoke(args=["billing", "bootstrap"])
    assert result.exit_code == 0, result.output
    return members.create_practice(owner, "Harbour Dental")


@pytest.fixture
def declined(request, sandbox, practice, owner, mailbox):
    """Subscribed on a good saved card; the renewal is then declined on a saved Visa for the reason
    (after ``mailbox`` was emptied, so its email is kept)."""
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.DONE
    renew_on_card(sandbox, inbox, practice, owner, "pm_card_visa", decline_code=request.param)
    assert practice.billing_status == BillingStatus.PAST_DUE
    return request.param


def _section(page: str, start: str, end: str) -> str:
    match = re.search(re.escape(start) + "(.*?)" + re.escape(end), page, re.S)
    assert match, f"no {start!r} on the page"
    return match.group(1)


def test_every_reason_has_its_own_words_and_says_what_to_do():
    """Retried reasons each have their own words; the hard declines share one (the card is done)."""
    retried = [DECLINE_REASONS[code] for code, again in REASONS.items() if again]
    hard = {DECLINE_REASONS[code] for code, again in REASONS.items() if not again}
    assert len(set(retried)) == len(retried) and len(hard) == 1 and not hard & set(retried)
    for words in [*retried, *hard]:
        assert "Pay now" in words, words


@pytest.mark.parametrize("declined", sorted(REASONS), indirect=True)
def test_the_banner_the_billing_page_and_the_email_say_the_reason(declined, practice, owner, auth, mailbox):
    words = DECLINE_REASONS[declined]
    retry = "Stripe will retry" if REASONS[declined] else "Stripe will not try this card again"
    assert practice.last_payment_error == words

    page = login(auth, owner).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    banner = _section(page, 'data-banner="payment_failed"', "</details>")
    assert str(escape(words)) in banner and retry in banner
    last_payment = _section(page, "<dt>Last payment</dt>", "</dd>")
    assert str(escape(words)) in last_payment

    email = mailbox.wait_for(owner.email, "a payment failed")
    text = body_text(email)
    assert words in text and retry in text
    html = email.get_body(preferencelist=("html",)).get_content()
    assert str(escape(words)) in html and retry in html
