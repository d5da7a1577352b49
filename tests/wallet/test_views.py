"""The wallet on the account page: HTMX swaps, plain-post fallbacks, isolation."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.wallet import services
from portal.wallet.models import PaymentMethod
from tests.conftest import extract_csrf
from tests.factories import make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def wallet(user):
    return services.user_wallet(user)


def _csrf(client) -> str:
    return extract_csrf(client.get("/account").get_data(as_text=True))


def test_account_page_lists_cards_without_calling_stripe(logged_in, wallet, save_card, stripe_calls):
    save_card(wallet, "pm_card_visa")
    save_card(wallet, "pm_card_mastercard")
    with stripe_calls() as calls:
        page = logged_in.get("/account").get_data(as_text=True)
    assert calls == []
    assert "ending in <strong>4242</strong>" in page
    assert "ending in <strong>4444</strong>" in page
    assert page.count(">Default<") == 1


def test_first_card_becomes_default_at_stripe_and_locally(wallet, save_card, sandbox):
    card = save_card(wallet)
    assert card.is_default
    customer = sandbox.client().v1.customers.retrieve(wallet.customer_id)
    assert customer.invoice_settings.default_payment_method == card.stripe_id


def test_add_card_flow_through_the_views(logged_in, wallet, sandbox):
    token = _csrf(logged_in)
    response = logged_in.post("/account/cards/setup-intent", headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200
    client_secret = response.get_json()["clientSecret"]
    intent_id = client_secret.split("_secret_")[0]
    sandbox.client().v1.setup_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})

    response = logged_in.post(
        "/account/cards/complete", data={"setup_intent": intent_id}, headers={**HX, "X-CSRFToken": token}
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert fragment.lstrip().startswith('<div id="wallet-cards">')  # a fragment, not a page
    assert "4242" in fragment and "Card saved." in fragment
    assert response.headers["Vary"] == "HX-Request" or "HX-Request" in response.headers["Vary"]


def test_unconfirmed_setup_intent_is_refused_and_saves_nothing(logged_in, wallet, sandbox):
    token = _csrf(logged_in)
    intent = sandbox.client().v1.setup_intents.create({"customer": wallet.customer_id})
    response = logged_in.post(
        "/account/cards/complete", data={"setup_intent": intent.id}, headers={**HX, "X-CSRFToken": token}
    )
    assert "not confirmed" in response.get_data(as_text=True)
    assert db.session.query(PaymentMethod).count() == 0


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain-post"])
def test_make_default(logged_in, wallet, save_card, sandbox, htmx):
    first = save_card(wallet, "pm_card_visa")
    second = save_card(wallet, "pm_card_mastercard")
    token = _csrf(logged_in)
    headers = {**HX} if htmx else {}
    response = logged_in.post(
        f"/account/cards/{second.stripe_id}/default", data={"csrf_token": token}, headers=headers
    )
    if htmx:
        assert response.status_code == 200 and "Default card updated." in response.get_data(as_text=True)
    else:
        assert response.status_code == 303 and response.headers["Location"].endswith("/account")
    db.session.expire_all()
    assert db.session.get(PaymentMethod, second.id).is_default
    assert not db.session.get(PaymentMethod, first.id).is_default
    customer = sandbox.client().v1.customers.retrieve(wallet.customer_id)
    assert customer.invoice_settings.default_payment_method == second.stripe_id


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain-post"])
def test_remove_card(logged_in, wallet, save_card, sandbox, htmx):
    first = save_card(wallet, "pm_card_visa").stripe_id
    second = save_card(wallet, "pm_card_mastercard").stripe_id
    token = _csrf(logged_in)
    headers = {**HX} if htmx else {}
    response = logged_in.post(f"/account/cards/{first}/remove", data={"csrf_token": token}, headers=headers)
    assert response.status_code == (200 if htmx else 303)
    db.session.expire_all()
    remaining = services.list_cards(wallet.customer_id)
    assert [c.stripe_id for c in remaining] == [second]
    assert remaining[0].is_default  # the default moves to a card that is still there
    assert sandbox.client().v1.payment_methods.retrieve(first).customer is None


def test_protected_default_card_cannot_be_removed(wallet, save_card):
    card = save_card(wallet)
    protected = services.Wallet(wallet.customer_id, wallet.owner, protects_default_card=True)
    with pytest.raises(services.DefaultCardInUse):
        services.remove_card(protected, card.stripe_id)
    assert services.list_cards(wallet.customer_id)


@pytest.mark.parametrize("action", ["remove", "default"])
def test_another_users_card_is_404_and_stripe_is_not_called(logged_in, save_card, stripe_calls, action):
    other = make_user()
    their_card = save_card(services.user_wallet(other))
    token = _csrf(logged_in)
    for headers in ({}, HX):
        with stripe_calls() as calls:
            response = logged_in.post(
                f"/account/cards/{their_card.stripe_id}/{action}", data={"csrf_token": token}, headers=headers
            )
        if headers:  # htmx swaps only 2xx/422: the refusal goes into the page's messages, as 200
            assert response.status_code == 200 and response.headers["HX-Retarget"] == "#flashes"
        else:
            assert response.status_code == 404
        assert "That card was not found." in response.get_data(as_text=True)
        assert not [c for c in calls if c.startswith("payment_method") or "default" in c]
    db.session.expire_all()
    assert db.session.get(PaymentMethod, their_card.id).customer_id == their_card.customer_id


def test_wallet_actions_need_csrf(logged_in, wallet, save_card):
    card = save_card(wallet)
    response = logged_in.post(f"/account/cards/{card.stripe_id}/remove", headers=HX)
    # Refused, and said in the page's messages (htmx swaps a 200 there, never a 400).
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#flashes"
    assert "Your form expired" in response.get_data(as_text=True)
    assert services.list_cards(wallet.customer_id)


def test_long_wallets_show_the_first_cards_then_all_on_request(logged_in, wallet, save_card):
    for _ in range(services.CARDS_SHOWN + 2):
        save_card(wallet)
    page = logged_in.get("/account").get_data(as_text=True)
    assert page.count("<li data-card=") == services.CARDS_SHOWN
    assert "Show all cards" in page
    fragment = logged_in.get("/account/cards", headers=HX).get_data(as_text=True)
    assert fragment.count("<li data-card=") == services.CARDS_SHOWN + 2
    assert "Show all" not in fragment


def test_removing_the_default_says_which_card_is_the_default_now_and_skips_an_expired_one(
    logged_in, wallet, save_card
):
    default = save_card(wallet, "pm_card_visa").stripe_id
    save_card(wallet, "pm_card_mastercard")
    expired = save_card(wallet, "pm_card_visa_debit").stripe_id
    db.session.scalars(db.select(PaymentMethod).filter_by(stripe_id=expired)).one().exp_year = 2020
    db.session.commit()

    response = logged_in.post(
        f"/account/cards/{default}/remove", data={"csrf_token": _csrf(logged_in)}, headers=HX
    )
    assert "Card removed. Mastercard ending 4444 is the default card now." in response.get_data(as_text=True)
    db.session.expire_all()
    assert [c.last4 for c in services.list_cards(wallet.customer_id) if c.is_default] == ["4444"]
