"""Where a wallet's buttons post to: the same partial serves a user and a practice."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for


@dataclass(frozen=True)
class WalletLinks:
    setup: str
    complete: str
    remove_endpoint: str
    default_endpoint: str
    endpoint_args: dict = field(default_factory=dict)
    #: The element htmx swaps with the re-rendered list.
    target: str = "#wallet-cards"

    def remove(self, payment_method_id: str) -> str:
        return url_for(self.remove_endpoint, payment_method_id=payment_method_id, **self.endpoint_args)

    def make_default(self, payment_method_id: str) -> str:
        return url_for(self.default_endpoint, payment_method_id=payment_method_id, **self.endpoint_args)


def user_wallet_links() -> WalletLinks:
    """The current user's own wallet on the account page."""
    return WalletLinks(
        setup=url_for("wallet.setup_intent"),
        complete=url_for("wallet.complete_setup"),
        remove_endpoint="wallet.remove_card",
        default_endpoint="wallet.make_default",
    )
