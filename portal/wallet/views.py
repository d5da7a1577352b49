"""The user's card wallet on the account page. HTMX swaps the list; plain posts still work."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.gateway.errors import BillingError
from portal.htmx import fragment_or_redirect, is_htmx, render_page_or_fragment
from portal.wallet import services
from portal.wallet.links import account_wallet

bp = Blueprint("wallet", __name__, url_prefix="/account/cards")


def _render_cards(message: str | None = None, error: str | None = None, status: int = 200):
    """The wallet fragment for htmx; otherwise back to the account page with a flash."""
    return fragment_or_redirect(
        "account/account.html",
        "wallet/partials/_cards.html",
        url_for("auth.account"),
        lambda: {**account_wallet(current_user), "wallet_message": message, "wallet_error": error},
        message=message,
        error=error,
        status=status,
    )


@bp.get("")
@login_required
def all_cards():
    """Every saved card (the account page shows the first ones)."""
    if not is_htmx():
        return redirect(url_for("auth.account"))
    return render_page_or_fragment(
        "account/account.html", "wallet/partials/_cards.html", **account_wallet(current_user, show_all=True)
    )


@bp.post("/setup-intent")
@login_required
def setup_intent():
    """Called by the card form's script right before ``confirmCardSetup``."""
    try:
        client_secret = services.start_card_setup(services.user_wallet(current_user))
    except BillingError as error:
        return jsonify(error=error.message), error.status
    return jsonify(clientSecret=client_secret)


@bp.post("/complete")
@login_required
def complete_setup():
    setup_intent_id = request.form.get("setup_intent", "")
    try:
        services.complete_card_setup(services.user_wallet(current_user), setup_intent_id)
    except (services.WalletError, BillingError) as error:
        return _render_cards(error=error.message, status=error.status)
    return _render_cards(message=_("Card saved."))


@bp.post("/<payment_method_id>/remove")
@login_required
def remove_card(payment_method_id: str):
    try:
        new_default = services.remove_card(services.user_wallet(current_user), payment_method_id)
    except (services.WalletError, BillingError) as error:
        return _render_cards(error=error.message, status=error.status)
    return _render_cards(message=services.removal_message(new_default))


@bp.post("/<payment_method_id>/default")
@login_required
def make_default(payment_method_id: str):
    try:
        services.make_default(services.user_wallet(current_user), payment_method_id)
    except (services.WalletError, BillingError) as error:
        return _render_cards(error=error.message, status=error.status)
    return _render_cards(message=_("Default card updated."))
