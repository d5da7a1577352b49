"""Where a wallet's buttons post to: the same partial serves a user and a practice."""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.urls import cached_url
from portal.users.models import User
from portal.wallet import services


@dataclass(frozen=True)
class WalletLinks:
    setup: str
    complete: str
    remove_endpoint: str
    default_endpoint: str
    endpoint_args: dict = field(default_factory=dict)
    #: The element htmx swaps with the re-rendered list.
    target: str = "#wallet-cards"
    #: Where the whole list is fetched from when only the first cards are shown.
    all_cards: str | None = None

    def remove(self, payment_method_id: str) -> str:
        return cached_url(self.remove_endpoint, payment_method_id=payment_method_id, **self.endpoint_args)

    def make_default(self, payment_method_id: str) -> str:
        return cached_url(self.default_endpoint, payment_method_id=payment_method_id, **self.endpoint_args)


def user_wallet_links() -> WalletLinks:
    """The current user's own wallet on the account page."""
    return WalletLinks(
        setup=cached_url("wallet.setup_intent"),
        complete=cached_url("wallet.complete_setup"),
        remove_endpoint="wallet.remove_card",
        default_endpoint="wallet.make_default",
        all_cards=cached_url("wallet.all_cards"),
    )


def account_wallet(user: User, show_all: bool = False) -> dict:
    """Template context of a user's card list on the account page: the first cards, or all."""
    limit = None if show_all else services.CARDS_SHOWN + 1
    cards = services.list_cards(user.stripe_customer_id, limit=limit)
    # One row past the page tells whether there are more, without counting them.
    more = not show_all and len(cards) > services.CARDS_SHOWN
    return {
        "cards": cards[: services.CARDS_SHOWN] if more else cards,
        "more_cards": more,
        "wallet_links": user_wallet_links(),
    }
