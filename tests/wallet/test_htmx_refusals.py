"""Every card action refused while posted by htmx shows its message: htmx swaps only 2xx and 422
answers (base.html's responseHandling), so the one rule in ``portal.htmx`` answers the fragment
with the error inside as 200. Before it, these answered 4xx/5xx and the person saw nothing."""

from __future__ import annotations

import pytest

from portal.practices.cards import practice_wallet
from portal.practices.models import MemberRole
from portal.wallet import services
from tests.conftest import extract_csrf
from tests.practices.conftest import add_member, login, make_practice

HX = {"HX-Request": "true"}
UNREACHABLE = "Stripe could not be reached"


def _post(client, page: str, path: str, data: dict | None = None):
    token = extract_csrf(client.get(page).get_data(as_text=True))
    return client.post(path, data={**(data or {}), "csrf_token": token}, headers=HX)


@pytest.mark.parametrize("action", ["complete", "remove", "default"])
def test_account_card_refusals_through_htmx_show_the_message(logged_in, user, save_card, sandbox, action):
    card = save_card(services.user_wallet(user))
    path = {"complete": "/account/cards/complete"}.get(action, f"/account/cards/{card.stripe_id}/{action}")
    with sandbox.outage():
        response = _post(logged_in, "/account", path, {"setup_intent": "seti_123"})
    assert response.status_code == 200
    assert UNREACHABLE in response.get_data(as_text=True)


@pytest.mark.parametrize("action", ["complete", "remove", "default"])
def test_practice_card_refusals_through_htmx_show_the_message(auth, user, save_card, sandbox, action):
    customer = sandbox.client().v1.customers.create({"email": user.email})
    practice = make_practice(user, customer_id=customer.id)
    card = save_card(practice_wallet(practice))
    client = login(auth, user)
    base = f"/practices/{practice.id}/billing/cards"
    path = f"{base}/complete" if action == "complete" else f"{base}/{card.stripe_id}/{action}"
    with sandbox.outage():
        response = _post(client, f"/practices/{practice.id}/billing", path, {"setup_intent": "seti_123"})
    assert response.status_code == 200
    assert UNREACHABLE in response.get_data(as_text=True)


def test_a_refusal_with_no_fragment_of_its_own_goes_into_the_page_messages(auth, user, user_factory):
    """A plain member's card action is refused by the loader: htmx gets the words in #flashes."""
    member = user_factory()
    practice = make_practice(user)
    add_member(practice, member, MemberRole.MEMBER)
    client = login(auth, member)
    billing = f"/practices/{practice.id}/billing"
    response = _post(client, billing, f"{billing}/cards/complete")
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#flashes"
    assert "Only the practice&#39;s owner and admins can manage its billing." in response.get_data(
        as_text=True
    )
