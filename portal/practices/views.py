"""Practice pages: list and create, the billing page with its HTMX actions, people and history.

Every action works as a plain POST (redirect 303 with a flash) and as an htmx
request (the billing partial re-rendered, banners swapped out of band).
"""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from portal import throttle
from portal.extensions import db
from portal.gateway.errors import BillingError
from portal.htmx import fragment_or_redirect, is_htmx, redirect_page, render_page_or_fragment
from portal.practices import banners, history_words, intents, invitations, services
from portal.practices.forms import CancelForm, CreatePracticeForm, InviteForm
from portal.practices.intents import Outcome
from portal.practices.models import MemberRole, Plan, Practice, PracticeMember
from portal.urls import cached_url, page_arg
from portal.wallet import services as wallet
from portal.wallet.links import WalletLinks

bp = Blueprint("practices", __name__, url_prefix="/practices")


@bp.record_once
def _register_banners(state) -> None:
    state.app.extensions.setdefault("banner_providers", []).append(banners.practice_banners)
    state.app.add_template_global(intents.new_key, "intent_key")  # a billing form's key
    from portal.cli import SEEDERS
    from portal.practices import webhook_handlers  # noqa: F401  (registers with the webhook inbox)
    from portal.practices.demo import seed_practices

    if seed_practices not in SEEDERS:
        SEEDERS.append(seed_practices)


# --- helpers ------------------------------------------------------------------------------------


def _load(practice_id: int) -> tuple[Practice, PracticeMember]:
    """The practice and the signed-in person's place in it; 404 to anyone outside it."""
    found = services.practice_of_member(practice_id, current_user)
    if found is None:
        abort(404, "That practice does not exist.")
    return found


def _load_manager(practice_id: int) -> tuple[Practice, PracticeMember]:
    practice, member = _load(practice_id)
    if not member.manages_billing:
        abort(403, "Only the practice's owner and admins can manage its billing.")
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
    offers = services.plan_offers()
    context = {
        "practice": practice,
        "member": member,
        "can_manage": can_manage,
        "offer": services.plan_offer(practice.plan, offers),
        "offers": offers,
        "onboarding_fee": services.onboarding_fee(),
        "invoices": services.invoice_page(practice, page),
        "open_invoice": (
            services.open_invoice(practice)
            if can_manage and practice.subscription_live and practice.payment_overdue
            else None
        ),
        "processing": services.awaiting_payment(practice),
        "cards": wallet.list_cards(practice.stripe_customer_id) if can_manage else [],
        "wallet_links": wallet_links(practice),
        "wallet_title": "Practice cards",
        "attempt": intents.new_key(),
        "cancel_form": None,  # the form of a failed cancel, with what was typed
    }
    context.update(extra)
    return context


def _billing_response(
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

    if not is_htmx() and extra.get("cancel_form") is not None:
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


def _outcome_response(practice: Practice, member: PracticeMember, outcome: Outcome):
    """The answer to a billing action, the same for the first post of a form and its repeats."""
    if outcome.redirect_to:
        return redirect_page(outcome.redirect_to)
    status = outcome.status if outcome.status == 422 or not is_htmx() else 200
    extra = {"cancel_form": g.pop("cancel_form")} if "cancel_form" in g else {}
    return _billing_response(practice, member, outcome.message, outcome.error, status, **extra)


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
            practice, member = _load_manager(practice_id)
            key = intents.posted_key(request.form.get("attempt"))
            version = intents.posted_version(request.form.get("billing_version"))
            scope = f"{action}:{request.form.get('plan', '')}"[:64]

            def act() -> Outcome:
                return intents.in_step(
                    practice.id,
                    version,
                    lambda: perform(practice, member, key),
                    claims_version=changes_billing,
                )

            outcome = intents.run_once(practice.id, scope, key, act)
            return _outcome_response(practice, member, outcome)

        view.billing_action = action
        return view

    return decorate


# --- pages ---------------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index():
    return render_template(
        "practices/index.html", rows=services.practices_for(current_user), form=CreatePracticeForm()
    )


@bp.post("/")
@login_required
def create():
    form = CreatePracticeForm()
    if not form.validate_on_submit():
        rows = services.practices_for(current_user)
        return render_template("practices/index.html", rows=rows, form=form), 422
    practice = services.create_practice(current_user, form.name.data)
    flash(f"{practice.name} is created. Choose a plan to start.", "success")
    return redirect(url_for("practices.billing", practice_id=practice.id), code=303)


@bp.get("/<int:practice_id>")
@login_required
def show(practice_id: int):
    return redirect(url_for("practices.billing", practice_id=practice_id))


@bp.get("/<int:practice_id>/billing")
@login_required
def billing(practice_id: int):
    practice, member = _load(practice_id)
    return render_template("practices/billing.html", **billing_context(practice, member))


@bp.get("/<int:practice_id>/billing/status")
@login_required
def status(practice_id: int):
    """Polled every 2 s while a checkout payment is being confirmed."""
    practice, member = _load(practice_id)
    was_processing = services.awaiting_payment(practice)
    if was_processing:
        services.refresh_processing(practice)
    context = billing_context(practice, member)
    if is_htmx() and not context["processing"]:
        # Done, here or already by Stripe's webhook since the page was drawn (only a page showing
        # "processing" polls): reload the whole billing area (plan, cards, invoices) and the banners.
        return _billing_response(practice, member, message=history_words.subscribed(practice))
    # The poll swaps the billing area it sits in: one partial for it, whatever the answer.
    return render_page_or_fragment(
        "practices/billing.html", "practices/partials/_billing_swap.html", **context
    )


@bp.get("/<int:practice_id>/billing/invoices")
@login_required
def invoices(practice_id: int):
    practice, member = _load(practice_id)
    if is_htmx():  # paging: the table is all that changes, so it is all that is read
        page = page_arg()
        return render_page_or_fragment(
            "practices/billing.html",
            "practices/partials/_invoices.html",
            practice=practice,
            invoices=services.invoice_page(practice, page),
        )
    return render_template("practices/billing.html", **billing_context(practice, member))


# --- people and history ----------------------------------------------------------------------------


def _people_page(practice: Practice, member: PracticeMember, form: InviteForm, status: int = 200):
    return render_template(
        "practices/people.html",
        practice=practice,
        member=member,
        is_owner=member.role == MemberRole.OWNER,
        members=services.members_of(practice),
        invitations=invitations.pending_for(practice) if member.manages_billing else [],
        member_form=form,
    ), status


def _back_to_people(practice_id: int):
    return redirect(url_for("practices.members", practice_id=practice_id), code=303)


@bp.get("/<int:practice_id>/members")
@login_required
def members(practice_id: int):
    practice, member = _load(practice_id)
    return _people_page(practice, member, InviteForm())


@bp.post("/<int:practice_id>/members")
@login_required
@throttle.invitations_limited
def add_member(practice_id: int):
    """Invite a person: the same answer whether or not the address has an account."""
    practice, member = _load(practice_id)
    form = InviteForm()
    if not form.validate_on_submit():
        return _people_page(practice, member, form, 422)
    try:
        message = invitations.invite(practice, form.email.data, MemberRole(form.role.data), current_user)
    except services.NotAllowed:
        raise  # not a mistake in the form: the error page (the app's UserError handler)
    except services.PracticeError as error:
        form.email.errors.append(error.message)
        return _people_page(practice, member, form, error.status)
    flash(message, "success")
    return _back_to_people(practice.id)


@bp.post("/<int:practice_id>/invitations/<int:invitation_id>/cancel")
@login_required
def cancel_invitation(practice_id: int, invitation_id: int):
    practice, _ = _load(practice_id)
    invitation = invitations.cancel(practice, invitation_id, current_user)
    flash(f"The invitation to {invitation.email} is cancelled; its link no longer works.", "success")
    return _back_to_people(practice.id)


@bp.post("/<int:practice_id>/members/<int:member_id>/remove")
@login_required
def remove_member(practice_id: int, member_id: int):
    practice, _ = _load(practice_id)
    services.remove_member(practice, member_id, current_user)
    flash("Removed from the practice.", "success")
    return _back_to_people(practice.id)


@bp.post("/<int:practice_id>/members/<int:member_id>/make-owner")
@login_required
@throttle.invitations_limited
def make_owner(practice_id: int, member_id: int):
    """Offer the practice to a member: nothing moves until they accept the emailed offer."""
    practice, _ = _load(practice_id)
    offered = invitations.offer_ownership(practice, member_id, current_user)
    flash(
        f"We sent {offered.user.email} your offer of {practice.name}. You stay the owner until they "
        "accept it; you can withdraw it below.",
        "success",
    )
    return _back_to_people(practice.id)


@bp.post("/<int:practice_id>/leave")
@login_required
def leave(practice_id: int):
    practice, _ = _load(practice_id)
    invitations.leave(practice, current_user)
    flash(f"You left {practice.name}.", "success")
    return redirect(url_for("practices.index"), code=303)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """The invitee's page: anyone holding the link sees what it offers; the account with the
    invited address accepts or declines it (someone without one registers first)."""
    try:
        found = invitations.load_invitation(token)
    except services.PracticeError as error:
        return render_template("practices/invitation.html", error=error.message), error.status
    if request.method == "GET" or not current_user.is_authenticated:
        return render_template("practices/invitation.html", invitation=found, token=token)
    accepting = request.form.get("answer") == "accept"
    practice_id, welcome = found.practice_id, _welcome(found)  # read before the answer spends it
    try:
        (invitations.accept if accepting else invitations.decline)(token, current_user)
    except services.PracticeError as error:
        context = {"invitation": found, "token": token, "error": error.message}
        return render_template("practices/invitation.html", **context), error.status
    if not accepting:
        flash("Invitation declined.", "success")
        return redirect(url_for("practices.index"), code=303)
    flash(welcome, "success")
    return redirect(url_for("practices.billing", practice_id=practice_id), code=303)


def _welcome(invitation) -> str:
    if invitation.is_ownership_offer:
        return f"You now own {invitation.practice.name}; {invitation.invited_by.name} stays on as an admin."
    return f"Welcome to {invitation.practice.name}."


@bp.get("/<int:practice_id>/history")
@login_required
def history(practice_id: int):
    """The billing audit log, for the people who manage billing; htmx pages through it."""
    practice, member = _load_manager(practice_id)
    return render_page_or_fragment(
        "practices/history.html",
        "practices/partials/_audit.html",
        practice=practice,
        member=member,
        audit=services.audit_page(practice, page_arg()),
    )


def _posted_plan() -> Plan | None:
    try:
        return Plan(request.form.get("plan", ""))
    except ValueError:
        return None


# --- subscribing --------------------------------------------------------------------------------


@bp.post("/<int:practice_id>/billing/subscribe")
@login_required
@billing_action("subscribe", changes_billing=False)
def subscribe(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    plan = _posted_plan()
    if plan is None:
        return Outcome(error="Choose a plan.", status=422, settled=False)
    try:
        checkout_url = services.start_checkout(practice, plan, current_user)
    except (services.PracticeError, BillingError) as error:
        return Outcome(error=error.message)
    return Outcome(redirect_to=checkout_url)


@bp.get("/<int:practice_id>/billing/checkout/return")
@login_required
def checkout_return(practice_id: int):
    """Stripe's ``success_url``: fulfil from the session, then show "processing" or the status."""
    practice, _ = _load(practice_id)
    session_id = request.args.get("session_id", "")
    if session_id:
        try:
            services.complete_checkout(practice, session_id)
        except BillingError as error:  # (a PracticeError is the error page, by the app's handler)
            flash(f"{error.message} Your payment will still be confirmed.", "warning")
            practice.checkout_session_id = practice.checkout_session_id or session_id
            db.session.commit()
        else:
            if not services.awaiting_payment(practice):  # else "processing", then the poll says it
                flash(history_words.subscribed(practice), "success")
    return redirect(url_for("practices.billing", practice_id=practice.id), code=303)


# --- managing the subscription --------------------------------------------------------------------


def _attempt(action, success: str) -> Outcome:
    try:
        action()
    except (services.PracticeError, BillingError) as error:
        return Outcome(error=error.message, status=error.status)
    return Outcome(message=success)


@bp.post("/<int:practice_id>/billing/cancel")
@login_required
@billing_action("cancel")
def cancel(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    form = CancelForm()
    if not form.validate_on_submit():
        g.cancel_form = form  # shown again with what was typed
        problem = form.reason.errors[0] if form.reason.errors else "Please tell us why you are cancelling."
        return Outcome(error=problem, status=422, settled=False)
    return _attempt(
        lambda: services.cancel_subscription(practice, form.reason.data, current_user, key),
        "The subscription will end at the end of the paid period.",
    )


@bp.post("/<int:practice_id>/billing/resume")
@login_required
@billing_action("resume")
def resume(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    return _attempt(
        lambda: services.resume_subscription(practice, current_user, key), "The subscription continues."
    )


@bp.post("/<int:practice_id>/billing/plan/preview")
@login_required
def preview_plan(practice_id: int):
    practice, member = _load_manager(practice_id)
    try:
        plan = Plan(request.form.get("plan", ""))
        preview = services.preview_plan_change(practice, plan, current_user)
    except ValueError:
        return _billing_response(practice, member, error="Choose a plan.", status=422)
    except (services.PracticeError, BillingError) as error:
        return _billing_response(practice, member, error=error.message)
    context = billing_context(practice, member, preview=preview)
    return render_page_or_fragment(
        "practices/plan_preview.html", "practices/partials/_plan_preview.html", **context
    )


@bp.post("/<int:practice_id>/billing/plan")
@login_required
@billing_action("plan")
def change_plan(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    plan = _posted_plan()
    if plan is None:
        return Outcome(error="Choose a plan.", status=422, settled=False)
    proration_date = request.form.get("proration_date", type=int)
    return _attempt(
        lambda: services.change_plan(practice, plan, current_user, proration_date, key),
        f"The practice is now on the {plan.label} plan.",
    )


@bp.post("/<int:practice_id>/billing/pay")
@login_required
@billing_action("pay")
def pay_now(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    return _attempt(
        lambda: services.pay_open_invoice(practice, current_user, key), "Invoice paid. Thank you!"
    )


# --- the practice's cards (the wallet component with practice links) -------------------------------


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
    practice, _ = _load_manager(practice_id)
    try:
        client_secret = wallet.start_card_setup(services.practice_wallet(practice))
    except BillingError as error:
        return jsonify(error=error.message), error.status
    return jsonify(clientSecret=client_secret)


@bp.post("/<int:practice_id>/billing/cards/complete")
@login_required
def card_complete(practice_id: int):
    practice, _ = _load_manager(practice_id)
    try:
        services.add_card(practice, request.form.get("setup_intent", ""), current_user)
    except (wallet.WalletError, BillingError, services.PracticeError) as error:
        return _cards_response(practice, error=error.message, status=error.status)
    return _cards_response(practice, message="Card saved.")


@bp.post("/<int:practice_id>/billing/cards/<payment_method_id>/remove")
@login_required
def card_remove(practice_id: int, payment_method_id: str):
    practice, _ = _load_manager(practice_id)
    try:
        new_default = services.remove_card(practice, payment_method_id, current_user)
    except wallet.CardNotFound:
        abort(404, "That card was not found in this practice's wallet.")
    except (wallet.WalletError, BillingError, services.PracticeError) as error:
        return _cards_response(practice, error=error.message, status=200 if is_htmx() else error.status)
    return _cards_response(practice, message=wallet.removal_message(new_default))


@bp.post("/<int:practice_id>/billing/cards/<payment_method_id>/default")
@login_required
def card_default(practice_id: int, payment_method_id: str):
    practice, _ = _load_manager(practice_id)
    try:
        services.make_default_card(practice, payment_method_id, current_user)
    except wallet.CardNotFound:
        abort(404, "That card was not found in this practice's wallet.")
    except (wallet.WalletError, BillingError, services.PracticeError) as error:
        return _cards_response(practice, error=error.message, status=200 if is_htmx() else error.status)
    return _cards_response(practice, message="Default card updated. Renewals will charge it.")
