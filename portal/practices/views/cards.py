"""The practice's cards on the Billing tab: the wallet component with the practice's links."""

from __future__ import annotations

from flask import (
    jsonify,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.gateway.errors import BillingError
from portal.htmx import fragment_or_redirect
from portal.practices import cards as practice_cards
from portal.practices import errors
from portal.practices.models import Practice
from portal.practices.views.common import bp, load_manager, wallet_links
from portal.wallet import services as wallet


def _cards_response(
    practice: Practice, message: str | None = None, error: str | None = None, status: int = 200
):
    return fragment_or_redirect(
        "practices/billing.html",
        "wallet/partials/_cards.html",
        url_for("practices.billing", practice_id=practice.id),
        lambda: {
            "cards": wallet.list_cards(practice.stripe_customer_id),
            "wallet_links": wallet_links(practice),
            "practice": practice,  # its live subscription's default card offers no Remove
            "wallet_message": message,
            "wallet_error": error,
        },
        message=message,
        error=error,
        status=status,
    )


@bp.post("/<int:practice_id>/billing/cards/setup-intent")
@login_required
def card_setup_intent(practice_id: int):
    practice, _member = load_manager(practice_id)
    try:
        client_secret = wallet.start_card_setup(practice_cards.practice_wallet(practice))
    except BillingError as error:
        return jsonify(error=error.message), error.status
    return jsonify(clientSecret=client_secret)


@bp.post("/<int:practice_id>/billing/cards/complete")
@login_required
def card_complete(practice_id: int):
    practice, _member = load_manager(practice_id)
    try:
        practice_cards.add_card(practice, request.form.get("setup_intent", ""), current_user)
    except (wallet.WalletError, BillingError, errors.PracticeError) as error:
        return _cards_response(practice, error=error.message, status=error.status)
    return _cards_response(practice, message=_("Card saved."))


@bp.post("/<int:practice_id>/billing/cards/<payment_method_id>/remove")
@login_required
def card_remove(practice_id: int, payment_method_id: str):
    practice, _member = load_manager(practice_id)
    try:
        new_default = practice_cards.remove_card(practice, payment_method_id, current_user)
    except (wallet.WalletError, BillingError, errors.PracticeError) as error:
        return _cards_response(practice, error=error.message, status=error.status)
    return _cards_response(practice, message=wallet.removal_message(new_default))


@bp.post("/<int:practice_id>/billing/cards/<payment_method_id>/default")
@login_required
def card_default(practice_id: int, payment_method_id: str):
    practice, _member = load_manager(practice_id)
    try:
        practice_cards.make_default_card(practice, payment_method_id, current_user)
    except (wallet.WalletError, BillingError, errors.PracticeError) as error:
        return _cards_response(practice, error=error.message, status=error.status)
    return _cards_response(practice, message=_("Default card updated. Renewals will charge it."))
