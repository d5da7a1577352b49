"""What every practice page shares: the blueprint, loading the practice for its member, the billing
page's context and responses, and the once-only wrapper of every billing action.

Every action works as a plain POST (redirect 303 with a flash) and as an htmx
request (the billing partial re-rendered, banners swapped out of band).
"""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    g,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from portal import throttle
from portal.extensions import db
from portal.htmx import fragment_or_redirect, is_htmx, redirect_page, render_page_or_fragment
from portal.i18n import default_practice_timezone, use_practice_timezone
from portal.practices import checkout as practice_checkout
from portal.practices import errors, intents, plan_changes, plans, retention, unconfirmed
from portal.practices import history as practice_history
from portal.practices import members as practice_members
from portal.practices.banners import support_email
from portal.practices.countries import TAX_ID_TYPE_OF_COUNTRY, country_name
from portal.practices.errors import BILLING_MANAGERS_ONLY, INVITERS_ONLY, NotAllowed, PracticeNotFound
from portal.practices.forms import billing_details_form
from portal.practices.intents import Outcome
from portal.practices.models import MemberRole, Practice, PracticeMember
from portal.urls import cached_url, page_arg
from portal.wallet import services as wallet
from portal.wallet.links import WalletLinks
from portal.words import stored_words

bp = Blueprint("practices", __name__, url_prefix="/practices")


def load(practice_id: int) -> tuple[Practice, PracticeMember]:
    """The practice and the signed-in person's place in it; 404 to anyone outside it."""
    found = practice_members.practice_of_member(practice_id, current_user)
    if found is None:
        raise PracticeNotFound()
    practice = found[0]
    # No zone chosen: its address's country's (a practice in Vietnam reads in Vietnam's time).
    use_practice_timezone(practice.timezone or default_practice_timezone(country=practice.address_country))
    return found


def load_manager(practice_id: int) -> tuple[Practice, PracticeMember]:
    practice, member = load(practice_id)
    if not member.manages_billing:
        raise NotAllowed(BILLING_MANAGERS_ONLY)
    return practice, member


def load_inviter(practice_id: int, *, offering_ownership: bool = False) -> tuple[Practice, PracticeMember]:
    """The practice for someone allowed to send its invitations (an ownership offer: its owner),
    and only then one invitation counted against the throttles: a refused post spends nothing."""
    practice, member = load(practice_id)
    if offering_ownership and member.role != MemberRole.OWNER:
        raise NotAllowed(practice_members.ONLY_THE_OWNER)
    if not member.manages_billing:
        raise NotAllowed(INVITERS_ONLY)
    throttle.count_invitation(practice.id, member.user_id)
    return practice, member


def wallet_links(practice: Practice) -> WalletLinks:
    return WalletLinks(
        setup=cached_url("practices.card_setup_intent", practice_id=practice.id),
        complete=cached_url("practices.card_complete", practice_id=practice.id),
        remove_endpoint="practices.card_remove",
        default_endpoint="practices.card_default",
        endpoint_args={"practice_id": practice.id},
    )


def billing_context(practice: Practice, member: PracticeMember, **extra) -> dict:
    """Everything the billing page and its partials render: local state only."""
    page = page_arg()
    can_manage = member.manages_billing
    offers = plans.plan_offers(plans.currency_of(practice))
    context = {
        "practice": practice,
        "member": member,
        "can_manage": can_manage,
        "offer": plans.plan_offer(practice.plan, offers),
        "offers": offers,
        "trial_days": {offer.plan: plans.trial_days(offer.plan, practice) for offer in offers},
        "onboarding_fee": plans.onboarding_fee(plans.currency_of(practice)),
        "invoices": practice_history.invoice_page(practice, page),
        "open_invoice": (
            practice_history.open_invoice(practice)
            if can_manage and practice.subscription_live and practice.payment_overdue
            else None
        ),
        "still_open": practice_history.open_invoices(practice),
        "processing": practice_checkout.awaiting_payment(practice),
        "unconfirmed": practice.unconfirmed_call is not None,  # polls until Stripe confirms it
        "cards": wallet.list_cards(practice.stripe_customer_id) if can_manage else [],
        "wallet_links": wallet_links(practice),
        "wallet_title": _("Practice cards"),
        "attempt": intents.new_key(),
        "cancel_form": None,  # the form of a failed cancel, with what was typed
        # Issue 17: the promotion code a refused subscribe kept as typed, and why it was refused;
        # the retention offer shown before the cancellation form; that form opened after "No thanks".
        "subscribe_code": None,
        "code_error": None,
        "retention_offer": retention.offer_for(practice) if can_manage else None,
        "open_cancel": False,
        "support_email": support_email(),
        "pending_words": plan_changes.pending_words,  # "Switches to Monthly on ..." (issue 17)
        # The billing details form as saved; a refused save hands back its own, as typed.
        "details_form": billing_details_form(practice) if can_manage else None,
        "details_version": None,  # the version a refused form carries; None: the practice's
        "removing": frozenset(),  # the tax IDs ticked for removal in a refused save
        "tax_id_type_of_country": TAX_ID_TYPE_OF_COUNTRY,
        "country_name": country_name,
    }
    context.update(extra)
    return context


def billing_response(
    practice: Practice,
    member: PracticeMember,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
    **extra,
):
    """htmx: the billing partial (+ banners out of band). A plain post: back to the page with a
    flash, or, refused with a form to correct (``cancel_form``), the page again with that form as
    typed and its messages under the field (a redirect would lose both)."""

    def context() -> dict:
        db.session.refresh(practice)
        return billing_context(practice, member, billing_message=message, billing_error=error, **extra)

    if not is_htmx() and (extra.get("cancel_form") is not None or extra.get("code_error")):
        # Refused with a form to correct: the page again (a redirect would lose what was typed).
        return render_page_or_fragment(
            "practices/billing.html", "practices/partials/_billing_swap.html", status, **context()
        )
    return fragment_or_redirect(
        "practices/billing.html",
        "practices/partials/_billing_swap.html",
        url_for("practices.billing", practice_id=practice.id),
        context,
        message=message,
        error=error,
        status=status,
    )


def outcome_response(practice: Practice, member: PracticeMember, outcome: Outcome):
    """The answer to a billing action, the same for the first post of a form and its repeats."""
    if outcome.redirect_to:
        return redirect_page(outcome.redirect_to)
    status = outcome.status  # htmx gets it as the one rule in ``portal.htmx`` says
    kept = ("cancel_form", "subscribe_code", "code_error", "open_cancel")  # a refused form as typed
    extra = {name: g.pop(name) for name in kept if name in g}
    # An outcome kept in English (``intents.STALE``, a repeat's recorded answer) in the reader's words.
    message = stored_words(outcome.message) if outcome.message else outcome.message
    error = stored_words(outcome.error) if outcome.error else outcome.error
    return billing_response(practice, member, message, error, status, **extra)


def billing_action(action: str, *, changes_billing: bool = True):
    """Every billing action goes through this: owners and admins only, once per intent.

    The wrapped function takes (practice, member, key) and returns an ``Outcome``; it runs at most
    once per form key (``attempt``, generated when the form was rendered), and a repeated post
    (double click, a replay) gets the first post's answer (see ``intents``). A form from another
    tab (another key) acts only if the billing is still as it was drawn (``billing_version``): the
    first of two tabs acts, the other answers ``intents.STALE`` with the current state. Starting a
    Checkout (``changes_billing=False``) changes nothing until it is paid, so it only checks the
    version (a newer Checkout expires the older ones; ``duplicates`` handles one paid anyway).
    """

    def decorate(perform):
        @wraps(perform)
        def view(practice_id: int):
            practice, member = load_manager(practice_id)
            if practice.deactivated:  # closed by the platform: no billing action until it reopens
                return outcome_response(practice, member, Outcome(error=_(errors.CLOSED), status=409))
            key = intents.posted_key(request.form.get("attempt"))
            version = intents.posted_version(request.form.get("billing_version"))
            # One intent per plan, or per invoice (each open invoice row has its own Pay).
            target = request.form.get("plan") or request.form.get("invoice") or ""
            scope = f"{action}:{target}"[:64]

            def act() -> Outcome:
                if not unconfirmed.confirm(practice):  # the last change first: its outcome decides
                    return Outcome(error=_(unconfirmed.STILL_UNCONFIRMED), status=409, settled=False)
                return intents.in_step(
                    practice.id,
                    version,
                    lambda: perform(practice, member, key),
                    claims_version=changes_billing,
                )

            outcome = intents.run_once(practice.id, scope, key, act)
            if (answer := g.pop("answer_instead", None)) is not None:  # a refusal with its own page
                return answer()
            return outcome_response(practice, member, outcome)

        view.billing_action = action
        return view

    return decorate
