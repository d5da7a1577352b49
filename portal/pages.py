"""Every page of the portal a person opens in a browser, and who opens it.

The browser sweep (``tests/e2e/test_every_page.py``) visits each page below for each of its roles
at a desktop's and two phones' widths; ``tests/test_pages.py`` checks this list against
``app.url_map``, so a new route is either listed here or excluded with its reason.

``args`` name the URL's arguments after objects the sweep builds (``practice``, ``order``, a
``reset_token``...): a page is listed once, whatever data it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Flask

#: Who looks: nobody signed in, a practice's member (no billing rights), its owner, a platform admin.
VISITOR, MEMBER, OWNER, ADMIN = "visitor", "member", "owner", "admin"
SIGNED_IN = frozenset({MEMBER, OWNER, ADMIN})
EVERYONE = SIGNED_IN | {VISITOR}


@dataclass(frozen=True)
class Page:
    endpoint: str
    roles: frozenset[str]
    args: Mapping[str, str] = field(default_factory=dict)  # URL argument -> the sweep's object
    query: Mapping[str, str] = field(default_factory=dict)


PAGES: tuple[Page, ...] = (
    Page("main.index", EVERYONE),
    Page("auth.login", frozenset({VISITOR})),
    Page("auth.register", frozenset({VISITOR})),
    Page("auth.forgot_password", frozenset({VISITOR})),
    Page("auth.reset_password", frozenset({VISITOR}), {"token": "reset_token"}),
    Page("auth.verify_email", frozenset({OWNER}), {"token": "verify_token"}),
    Page("auth.confirm_email_change", frozenset({OWNER}), {"token": "email_change_token"}),
    Page("auth.account", SIGNED_IN),
    Page("auth.edit_profile", SIGNED_IN),
    Page("auth.change_password", SIGNED_IN),
    Page("auth.delete_account", SIGNED_IN),
    Page("wallet.all_cards", frozenset({OWNER})),
    Page("practices.index", SIGNED_IN),
    Page("practices.show", frozenset({OWNER, MEMBER}), {"practice_id": "practice"}),
    Page("practices.billing", frozenset({OWNER, MEMBER}), {"practice_id": "practice"}),
    Page("practices.status", frozenset({OWNER, MEMBER}), {"practice_id": "practice"}),
    Page("practices.invoices", frozenset({OWNER, MEMBER}), {"practice_id": "practice"}),
    Page("practices.checkout_return", frozenset({OWNER}), {"practice_id": "practice"}),
    Page(
        "practices.authenticate_payment",
        frozenset({OWNER}),
        {"practice_id": "practice", "invoice_id": "open_invoice"},
    ),
    Page("practices.members", frozenset({OWNER, MEMBER}), {"practice_id": "practice"}),
    Page("practices.history", frozenset({OWNER}), {"practice_id": "practice"}),
    Page("practices.invitation", frozenset({VISITOR, MEMBER}), {"token": "invitation_token"}),
    Page("shop.products", SIGNED_IN),
    Page("shop.product", SIGNED_IN, {"product_id": "product"}),
    Page("shop.orders", SIGNED_IN),
    Page("shop.order", frozenset({OWNER}), {"order_id": "order"}),
    Page("shop.authenticate", frozenset({OWNER}), {"order_id": "order"}),
    Page("shop.admin_products", frozenset({ADMIN})),
    Page("shop.admin_new_product", frozenset({ADMIN})),
    Page("shop.admin_edit_product", frozenset({ADMIN}), {"product_id": "product"}),
    Page("shop.admin_orders", frozenset({ADMIN})),
    Page("shop.admin_order", frozenset({ADMIN}), {"order_id": "order"}),
    Page("admin.index", frozenset({ADMIN})),
    Page("admin.practice_list", frozenset({ADMIN})),
    Page("admin.practice", frozenset({ADMIN}), {"practice_id": "practice"}),
    Page("admin.events", frozenset({ADMIN})),
    Page("admin.event", frozenset({ADMIN}), {"event_id": "event"}),
    Page("admin.promotions", frozenset({ADMIN})),
    Page("admin.business_numbers", frozenset({ADMIN})),
    Page("admin.jobs", frozenset({ADMIN})),
    Page("dev_inbox.inbox", EVERYONE),
)

#: Routes that are not pages a person opens, and why.
NOT_PAGES: Mapping[str, str] = {
    "static": "stylesheets, scripts and the icon",
    "main.favicon": "the icon browsers ask for at /favicon.ico",
    "main.healthz": "JSON for load balancers",
    "main.readyz": "JSON for load balancers",
    "main.metrics": "Prometheus's scrape (text, not a page)",
    "webhooks.stripe_webhook": "Stripe's signed POSTs",
    "api.openapi": "the JSON API's OpenAPI document",
    "practices.refresh_status": "a manager's POST poll of the billing status; its GET twin is listed",
    **{
        f"api.{name}": "the JSON API (bearer tokens)"
        for name in (
            "attach_payment_method",
            "create_payment_intent",
            "create_setup_intent",
            "create_token",
            "create_user",
            "delete_user",
            "detach_payment_method",
            "entitlement",
            "get_user",
            "list_payment_methods",
            "revoke_token",
            "set_default_payment_method",
            "update_user",
        )
    },
    **{
        endpoint: "a form's POST target; its answer is one of the pages above or their fragment"
        for endpoint in (
            "admin.configure_retention",
            "admin.create_promotion_code",
            "admin.deactivate",
            "admin.pause_collection",
            "admin.disable_promotion_code",
            "admin.reactivate",
            "admin.resume_collection",
            "admin.refund_invoice",
            "admin.replay",
            "admin.retention_off",
            "admin.retry_job",
            "auth.logout",
            "auth.resend_verification",
            "main.set_locale",
            "practices.add_member",
            "practices.cancel",
            "practices.cancel_invitation",
            "practices.card_complete",
            "practices.card_default",
            "practices.card_remove",
            "practices.card_setup_intent",
            "practices.change_plan",
            "practices.create",
            "practices.finish_authentication",
            "practices.leave",
            "practices.make_owner",
            "practices.pay_now",
            "practices.preview_plan",
            "practices.remove_member",
            "practices.resume",
            "practices.retention_accept",
            "practices.retention_decline",
            "practices.save_details",
            "practices.schedule_plan",
            "practices.subscribe",
            "practices.undo_plan_switch",
            "shop.admin_refund_order",
            "shop.buy",
            "shop.confirm",
            "wallet.complete_setup",
            "wallet.make_default",
            "wallet.remove_card",
            "wallet.setup_intent",
        )
    },
}


def register_page_helpers(app: Flask) -> None:
    """What the page templates read beyond their view's context: History's sentences, and the
    practices that keep an owner from deleting the account (the account page then offers no button)."""
    from portal.practices.history_words import describe_all
    from portal.practices.ownership import billed_practices_owned_by

    app.add_template_global(describe_all, "history_lines")
    app.add_template_global(billed_practices_owned_by, "practices_blocking_deletion")
