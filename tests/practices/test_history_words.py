"""History says what happened in sentences; Stripe's ids only behind a toggle; one date format."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.practices.history_words import describe
from portal.words import format_moment
from tests.factories import BillingAuditEntryFactory, PaymentMethodFactory, UserFactory
from tests.practices.conftest import login


@pytest.mark.parametrize(
    ("action", "detail", "sentence", "ids"),
    [
        ("status_changed", "REQUIRED → DONE", "Billing status: Billing required → Active", ()),
        ("status_changed", "DONE → PAST_DUE", "Billing status: Active → Past due", ()),
        ("checkout_started", "Monthly, session cs_test_a1B2", "Checkout started: Monthly", ("cs_test_a1B2",)),
        ("onboarding_paid", "in_test_123", "Onboarding fee paid", ("in_test_123",)),
        ("card_added", "visa 4242", "Card added: Visa ending 4242", ()),
        ("paid_now", "in_9 with mastercard 4444", "Invoice paid now with Mastercard ending 4444", ("in_9",)),
        ("payment_failed", "in_7: Card declined.", "Payment failed: Card declined.", ("in_7",)),
        ("plan_changed", "Monthly → Every 6 months", "Plan switched from Monthly to Every 6 months", ()),
        ("member_invited", "ada@example.com as MemberRole.ADMIN", "ada@example.com invited as admin", ()),
        ("member_role_changed", "ada@example.com as member", "ada@example.com's role changed to member", ()),
        ("cancellation_scheduled", "ends 2026-12-01", "Subscription set to end on 01 Dec 2026", ()),
        ("ownership_transferred", "a@x.io → b@x.io", "Ownership moved from a@x.io to b@x.io", ()),
    ],
)
def test_each_kind_of_line_reads_as_a_sentence(app, action, detail, sentence, ids):
    line = describe(action, detail, "Olive Owner")
    assert (line.sentence, line.ids) == (sentence, ids)


def test_a_card_made_default_is_named_by_its_last_four(app):
    card = PaymentMethodFactory(brand="visa", last4="4242")
    line = describe("default_card_changed", card.stripe_id, "Olive")
    assert (line.sentence, line.ids) == ("Visa ending 4242 became the default", (card.stripe_id,))


def test_the_subscription_started_names_the_plan(app):
    line = describe("subscription_started", "sub_1", None, "Monthly")
    assert line.sentence == "Subscription started: Monthly"


def test_who_stripe_a_person_or_a_deleted_account(app):
    assert describe("status_changed", "REQUIRED → DONE", None).who == "Stripe"
    assert describe("card_added", "visa 4242", "Olive Owner").who == "Olive Owner"
    # A person's line whose account is gone (actor set to NULL) was not Stripe's doing.
    assert describe("cancel_requested", "Too dear", None).who == "A deleted account"


def test_one_date_and_time_format():
    assert format_moment(dt.datetime(2026, 11, 30, 8, 5)) == "30 Nov 2026, 08:05 UTC"
    assert format_moment(1_790_000_000) == "21 Sep 2026, 14:13 UTC"
    assert format_moment(None) == "—"


def test_the_history_tab_reads_as_sentences_with_ids_behind_a_toggle(auth, owner, practice):
    gone = UserFactory(name="Gone Person")
    at = dt.datetime(2026, 11, 1, 9, 0)
    lines = [
        ("checkout_started", "Monthly, session cs_test_abcdef", owner),
        ("onboarding_paid", "cs_test_abcdef", None),
        ("onboarding_paid", "in_test_123456", None),  # the same fee, from the invoice's event
        ("status_changed", "REQUIRED → DONE", None),
        ("cancel_requested", "Closing", gone),
    ]
    for minutes, (action, detail, actor) in enumerate(lines):
        when = at + dt.timedelta(minutes=minutes)
        BillingAuditEntryFactory(
            practice=practice, action=action, detail=detail, actor=actor, created_at=when
        )
    from portal.extensions import db

    db.session.delete(gone)
    db.session.commit()

    page = login(auth, owner).get(f"/practices/{practice.id}/history").get_data(as_text=True)
    history = page[page.index('id="practice-audit"') :]
    shown = re.sub(r"<details.*?</details>", "", history, flags=re.S)
    assert "Checkout started: Monthly" in shown and "Billing status: Billing required → Active" in shown
    assert not re.search(r"\b(cs|in|pm|sub)_\w+", shown)  # ids only in the toggles
    assert "REQUIRED" not in shown and "DONE" not in shown
    assert "cs_test_abcdef" in history and "in_test_123456" in history
    assert shown.count("Onboarding fee paid") == 1
    assert "A deleted account" in shown
    assert "01 Nov 2026, 09:03 UTC" in shown


def _line(action, detail=None, actor_name=None):
    from portal.practices.history import AuditLine

    return AuditLine(dt.datetime(2026, 11, 1), action, detail, actor_name)


def test_stripes_echo_of_a_persons_change_is_said_once_on_the_persons_line(app):
    from portal.practices.history_words import describe_all

    newest_first = [
        _line("cancellation_withdrawn"),
        _line("resumed", None, "Olive"),
        _line("cancellation_scheduled", "ends 2026-12-30"),
        _line("cancel_requested", "Trying another system", "Olive"),
    ]
    assert [(words.sentence, words.who) for _, words in describe_all(newest_first)] == [
        ("Subscription resumed", "Olive"),
        (
            "Cancellation asked for. Reason: Trying another system. The subscription ends on 30 Dec 2026.",
            "Olive",
        ),
    ]


def test_a_subscription_started_on_the_plan_of_its_checkout_not_todays(app):
    from portal.practices.history_words import describe_all

    newest_first = [
        _line("plan_changed", "Monthly → Every 6 months", "Olive"),
        _line("subscription_started", "sub_1"),
        _line("checkout_started", "Monthly, session cs_1", "Olive"),
    ]
    sentences = [words.sentence for _, words in describe_all(newest_first)]
    assert sentences[1] == "Subscription started: Monthly"


def test_the_onboarding_fee_recorded_twice_in_a_race_is_one_line_with_both_ids(app):
    from portal.practices.history_words import describe_all

    newest_first = [
        _line("onboarding_paid", "in_test_2"),  # Stripe's invoice.paid, racing the Checkout's return
        _line("status_changed", "REQUIRED → DONE"),
        _line("subscription_started", "sub_1"),
        _line("onboarding_paid", "cs_test_1"),
        _line("checkout_started", "Monthly, session cs_test_1", "Olive"),
    ]
    shown = [words for _, words in describe_all(newest_first)]
    assert [words.sentence for words in shown].count("Onboarding fee paid") == 1
    paid = next(words for words in shown if words.sentence == "Onboarding fee paid")
    assert paid.ids == ("cs_test_1", "in_test_2")
    assert [words.sentence for words in shown][-2] == "Onboarding fee paid"  # where it first happened


def test_two_refunds_of_the_same_amount_are_two_history_lines(app):
    from portal.practices.history_words import describe_all

    newest_first = [
        _line("invoice_refunded_at_stripe", "$47.50 of invoice AAX2-0001, re_second"),
        _line("invoice_refunded_at_stripe", "$47.50 of invoice AAX2-0001, re_first"),
        _line("invoice_refunded", "$10.00 of invoice AAX2-0001, re_b: Customer asked", "Pat"),
        _line("invoice_refunded", "$10.00 of invoice AAX2-0001, re_a: Customer asked", "Pat"),
        _line("receipt_sent", "in_2 to mallory@example.com"),
        _line("receipt_sent", "in_1 to mallory@example.com"),
    ]
    shown = [(words.sentence, words.ids) for _, words in describe_all(newest_first)]
    assert shown == [
        ("Refunded in Stripe's dashboard: $47.50 of invoice AAX2-0001", ("re_second",)),
        ("Refunded in Stripe's dashboard: $47.50 of invoice AAX2-0001", ("re_first",)),
        ("Refunded $10.00 of invoice AAX2-0001: Customer asked", ("re_b",)),
        ("Refunded $10.00 of invoice AAX2-0001: Customer asked", ("re_a",)),
        ("Receipt sent to mallory@example.com", ("in_2",)),
        ("Receipt sent to mallory@example.com", ("in_1",)),
    ]


@pytest.mark.parametrize("stripe_first", [True, False])
def test_a_switch_a_person_set_is_said_once_though_stripe_echoed_it(app, stripe_first):
    from portal.practices.history_words import describe_all

    person = _line("plan_switch_scheduled", "Monthly on 2027-05-30", "Mallory")
    echo = _line("plan_switch_scheduled", "Monthly on 2027-05-30")
    newest_first = [echo, person] if stripe_first else [person, echo]
    shown = [(words.sentence, words.who) for _, words in describe_all(newest_first)]
    assert shown == [("Plan set to switch to Monthly on 30 May 2027", "Mallory")]
