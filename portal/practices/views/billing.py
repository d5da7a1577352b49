"""The Billing tab: the practice list, the billing page and its polling, subscribing through
Checkout, and managing the subscription (cancel, resume, switch plan, pay now)."""

from __future__ import annotations

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.extensions import db
from portal.formatting import format_date
from portal.gateway.errors import BillingError, InvalidRequest
from portal.htmx import is_htmx, render_page_or_fragment
from portal.i18n import current_locale
from portal.practices import checkout as practice_checkout
from portal.practices import (
    discounts,
    errors,
    history_words,
    intents,
    plan_changes,
    plans,
    proration,
    retention,
    subscriptions,
    unconfirmed,
)
from portal.practices import history as practice_history
from portal.practices import members as practice_members
from portal.practices.forms import CancelForm, CreatePracticeForm
from portal.practices.intents import Outcome
from portal.practices.models import Plan, Practice, PracticeMember
from portal.practices.views.bank_check import bank_check_url
from portal.practices.views.common import (
    billing_action,
    billing_context,
    billing_response,
    bp,
    load,
    load_manager,
)
from portal.promotions import codes as promotion_codes
from portal.promotions.errors import PromotionError
from portal.promotions.words import said_terms
from portal.text import N_
from portal.urls import page_arg

#: Stripe refused the code on this switch for a reason its checks did not foresee (never its words).
CODE_NOT_TAKEN = N_("%(code)s cannot be used on this switch.")


@bp.get("/")
@login_required
def index():
    return render_template(
        "practices/index.html", rows=practice_members.practices_for(current_user), form=_create_form()
    )


def _create_form() -> CreatePracticeForm:
    """The create form, its currency suggested by the person's language or their browser's country."""
    regions = (tag.replace("_", "-").partition("-")[2] for tag, _q in request.accept_languages)
    country = next((region for region in regions if len(region) == 2), None)
    return CreatePracticeForm(suggested_currency=plans.suggested_currency(current_locale(), country))


@bp.post("/")
@login_required
def create():
    form = _create_form()
    if not form.validate_on_submit():
        rows = practice_members.practices_for(current_user)
        return render_template("practices/index.html", rows=rows, form=form), 422
    key = intents.posted_key(request.form.get("attempt"))  # the form's once-only key
    practice = practice_members.create_practice(current_user, form.name.data, key, form.currency.data)
    flash(_("%(practice)s is created. Choose a plan to start.", practice=practice.name), "success")
    return redirect(url_for("practices.billing", practice_id=practice.id), code=303)


@bp.get("/<int:practice_id>")
@login_required
def show(practice_id: int):
    return redirect(url_for("practices.billing", practice_id=practice_id))


@bp.get("/<int:practice_id>/billing")
@login_required
def billing(practice_id: int):
    practice, member = load(practice_id)
    return render_template("practices/billing.html", **billing_context(practice, member))


@bp.get("/<int:practice_id>/billing/status")
@login_required
def status(practice_id: int):
    """Polled every 2 s by a member while a checkout payment is being confirmed: the mirror only
    (a GET neither calls Stripe nor writes; Stripe's webhook, or a manager's poll, moves it on)."""
    practice, member = load(practice_id)
    return _status_answer(practice, member, waited_for=request.args.get("waiting", "payment"))


@bp.post("/<int:practice_id>/billing/status")
@login_required
def refresh_status(practice_id: int):
    """A billing manager's page polls this instead: it also asks Stripe about the checkout session,
    so the page confirms the payment even when the webhook is slow or lost."""
    practice, member = load_manager(practice_id)
    waited_for = "change" if practice.unconfirmed_call else "payment"
    unconfirmed.confirm(practice)
    practice_checkout.refresh_processing(practice)
    return _status_answer(practice, member, waited_for)


def _status_answer(practice: Practice, member: PracticeMember, waited_for: str):
    context = billing_context(practice, member)
    if is_htmx() and not context["processing"] and not context["unconfirmed"]:
        # Done, here or already by Stripe's webhook since the page was drawn (only a page waiting
        # on Stripe polls): reload the whole billing area (plan, cards, invoices) and the banners.
        done = _(unconfirmed.CONFIRMED) if waited_for == "change" else _checkout_outcome(practice)
        return billing_response(practice, member, message=done)
    # The poll swaps the billing area it sits in: one partial for it, whatever the answer.
    return render_page_or_fragment(
        "practices/billing.html", "practices/partials/_billing_swap.html", **context
    )


def _checkout_outcome(practice: Practice) -> str:
    if practice.billing_status == "REQUIRED":  # the session expired or Stripe never knew it
        return _(practice_checkout.CHECKOUT_ENDED)
    return history_words.subscribed(practice)


@bp.get("/<int:practice_id>/billing/invoices")
@login_required
def invoices(practice_id: int):
    practice, member = load(practice_id)
    if is_htmx():  # paging: the table is all that changes, so it is all that is read
        page = page_arg()
        return render_page_or_fragment(
            "practices/billing.html",
            "practices/partials/_invoices.html",
            practice=practice,
            invoices=practice_history.invoice_page(practice, page),
            can_manage=member.manages_billing,  # its rows' Pay buttons
            attempt=intents.new_key(),
        )
    return render_template("practices/billing.html", **billing_context(practice, member))


def posted_plan() -> Plan | None:
    try:
        return Plan(request.form.get("plan", ""))
    except ValueError:
        return None


@bp.post("/<int:practice_id>/billing/subscribe")
@login_required
@billing_action("subscribe", changes_billing=False)
def subscribe(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    plan = posted_plan()
    if plan is None:
        return Outcome(error=_("Choose a plan."), status=422, settled=False)
    typed = request.form.get("promotion_code", "")
    try:
        promotion = (
            promotion_codes.resolve_code(typed, practice.stripe_customer_id, plans.currency_of(practice))
            if typed.strip()
            else None
        )
        refusal = discounts.used_code_refusal(practice, promotion["code"]) if promotion else None
        if refusal is not None:  # once per practice, at Checkout as on a switch
            raise PromotionError(refusal, field="promotion_code", status=422)
    except PromotionError as refused:  # the form again, the code as typed, why under the field
        g.subscribe_code, g.code_error = typed[:200], refused.message
        return Outcome(error=refused.message, status=422, settled=False)
    except BillingError as error:
        return Outcome(error=error.message, status=error.status, settled=False)
    try:
        checkout_url = practice_checkout.start_checkout(practice, plan, current_user, promotion)
    except (errors.PracticeError, BillingError) as error:
        return Outcome(error=error.message)
    return Outcome(redirect_to=checkout_url)


@bp.get("/<int:practice_id>/billing/checkout/return")
@login_required
def checkout_return(practice_id: int):
    """Stripe's ``success_url``: fulfil from the session, then show "processing" or the status.

    Only a billing manager's visit may change billing state (a member's is just a way back to
    the page), and only with a session Stripe knows that was started for this practice.
    """
    practice, member = load(practice_id)
    session_id = request.args.get("session_id", "")
    if session_id and member.manages_billing:
        _return_from_checkout(practice, session_id)
    return redirect(url_for("practices.billing", practice_id=practice.id), code=303)


def _return_from_checkout(practice: Practice, session_id: str) -> None:
    try:
        practice_checkout.complete_checkout(practice, session_id)
    except practice_checkout.UnknownCheckout as unknown:
        flash(unknown.message, "warning")
    except BillingError as error:  # Stripe unreachable: wait for it; the poll checks the id at Stripe
        # (a PracticeError, another practice's session, is the error page, by the app's handler)
        flash(_("%(problem)s Your payment will still be confirmed.", problem=error.message), "warning")
        practice.checkout_session_id = practice.checkout_session_id or session_id
        db.session.commit()
    else:
        # else "processing" (the poll says it), or nothing was paid (the page offers the plans)
        if not practice_checkout.awaiting_payment(practice) and practice.billing_status != "REQUIRED":
            flash(history_words.subscribed(practice), "success")


# --- managing the subscription --------------------------------------------------------------------


def attempt_action(action, success: str) -> Outcome:
    try:
        action()
    except errors.BankCheckNeeded as needed:  # Pay now: the bank wants the payer, on the portal's page
        return Outcome(redirect_to=bank_check_url(needed.practice_id, needed.invoice_id))
    except unconfirmed.OutcomeUnknown as unknown:  # not "try again": it may be done; the page checks
        return Outcome(message=unknown.message, status=unknown.status)
    except (errors.PracticeError, BillingError) as error:
        return Outcome(error=error.message, status=error.status)
    return Outcome(message=success)


@bp.post("/<int:practice_id>/billing/cancel")
@login_required
@billing_action("cancel")
def cancel(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    form = CancelForm()
    if not form.validate_on_submit():
        g.cancel_form = form  # shown again with what was typed
        problem = form.reason.errors[0] if form.reason.errors else _("Please tell us why you are cancelling.")
        return Outcome(error=problem, status=422, settled=False)
    if practice.on_trial:  # nothing was paid for the plan: it ends with the trial (attack 3 F15)
        done = _(
            "The subscription will end when the free trial ends, on %(day)s.",
            day=format_date(practice.trial_end),
        )
    else:
        done = _("The subscription will end at the end of the paid period.")
    if practice.pending_plan:
        dropped = _("The switch to %(plan)s that was waiting is dropped.", plan=practice.pending_plan.label)
        done = f"{done} {dropped}"
    return attempt_action(
        lambda: subscriptions.cancel_subscription(practice, form.reason.data, current_user, key), done
    )


@bp.post("/<int:practice_id>/billing/resume")
@login_required
@billing_action("resume")
def resume(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    return attempt_action(
        lambda: subscriptions.resume_subscription(practice, current_user, key),
        _("The subscription continues."),
    )


@bp.post("/<int:practice_id>/billing/plan/preview")
@login_required
def preview_plan(practice_id: int):
    practice, member = load_manager(practice_id)
    try:
        plan = Plan(request.form.get("plan", ""))
    except ValueError:
        return billing_response(practice, member, error=_("Choose a plan."), status=422)
    return preview_answer(practice, member, plan, request.form.get("promotion_code", ""))


def switch_code(practice: Practice, typed: str) -> dict:
    """The typed code resolved at Stripe and usable by this practice on a switch, else a
    ``PromotionError`` in words (used already, on a trial, another currency, expired)."""
    promotion = promotion_codes.resolve_code(typed, practice.stripe_customer_id, plans.currency_of(practice))
    refusal = subscriptions.code_refusal(practice, promotion)
    if refusal is not None:
        raise PromotionError(refusal, field="promotion_code", status=422)
    return promotion


def preview_answer(
    practice: Practice, member: PracticeMember, plan: Plan, typed: str, notice: str | None = None
):
    """The switch's preview as Stripe prices it now (``notice``: why it is shown again)."""
    promotion, code_error, status = None, None, 409 if notice else 200
    try:
        if typed.strip():
            try:
                promotion = switch_code(practice, typed)
            except PromotionError as refused:  # the preview without it, and why under the field
                code_error, status = refused.message, 422
        try:
            preview = subscriptions.preview_plan_change(practice, plan, current_user, promotion)
        except InvalidRequest:  # Stripe refused what the code's checks let through: the preview without it
            if promotion is None:
                raise
            code_error, status = _(CODE_NOT_TAKEN, code=promotion["code"]), 422
            promotion, preview = None, subscriptions.preview_plan_change(practice, plan, current_user)
    except (errors.PracticeError, BillingError) as error:
        return billing_response(practice, member, error=error.message)
    context = billing_context(
        practice,
        member,
        preview=preview,
        subscribe_code=typed[:200],
        code_error=code_error,
        preview_notice=notice,
    )
    return render_page_or_fragment(
        "practices/plan_preview.html", "practices/partials/_plan_preview.html", status, **context
    )


@bp.post("/<int:practice_id>/billing/plan")
@login_required
@billing_action("plan")
def change_plan(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    plan = posted_plan()
    if plan is None:
        return Outcome(error=_("Choose a plan."), status=422, settled=False)
    typed = request.form.get("promotion_code", "")

    def fresh_preview() -> Outcome:  # nothing was sent to Stripe: the current price instead
        g.answer_instead = lambda: preview_answer(practice, member, plan, typed, _(proration.STALE))
        return Outcome(error=_(proration.STALE), status=409, settled=False)

    try:  # only a date this portal issued for this preview (it decides the credit)
        proration_date = proration.verified(request.form.get("proration_date"), practice.id, plan)
    except proration.StalePreview:
        return fresh_preview()
    try:  # the code the preview showed, checked again: it may have expired or run out meanwhile
        promotion = switch_code(practice, typed) if typed.strip() else None
    except (PromotionError, BillingError) as refused:
        return Outcome(
            error=_("%(problem)s Nothing was changed.", problem=refused.message), status=refused.status
        )
    stale: list[bool] = []

    def switch() -> None:
        try:
            subscriptions.change_plan(practice, plan, current_user, proration_date, key, promotion)
        except proration.StalePreview:  # too old on Stripe's clock: nothing was sent
            stale.append(True)
            raise

    done = _("The practice is now on the %(plan)s plan.", plan=plan.label)
    if promotion:
        done = f"{done} {_('Promotion code %(code)s applies.', code=promotion['code'])}"
    outcome = attempt_action(switch, done)
    return fresh_preview() if stale else outcome


@bp.post("/<int:practice_id>/billing/plan/later")
@login_required
@billing_action("plan_later")
def schedule_plan(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    """Switch at the end of the paid period (Stripe's subscription schedule)."""
    plan = posted_plan()
    if plan is None:
        return Outcome(error=_("Choose a plan."), status=422, settled=False)
    outcome = attempt_action(lambda: plan_changes.schedule_switch(practice, plan, current_user, key), "")
    if outcome.message == "":  # done: the date is Stripe's, known only now
        return Outcome(
            message=_("%(change)s. You can undo it until then.", change=plan_changes.pending_words(practice))
        )
    return outcome


@bp.post("/<int:practice_id>/billing/plan/undo")
@login_required
@billing_action("plan_undo")
def undo_plan_switch(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    if practice.plan:
        done = _("The switch is undone: the practice stays on the %(plan)s plan.", plan=practice.plan.label)
    else:
        done = _("The switch is undone: the practice stays on its plan.")
    return attempt_action(lambda: plan_changes.undo_switch(practice, current_user, key), done)


@bp.post("/<int:practice_id>/billing/pay")
@login_required
@billing_action("pay")
def pay_now(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    """ "Pay now" (the newest open invoice), or an invoice row's "Pay" (``invoice``, that one)."""
    invoice_id = request.form.get("invoice") or None
    return attempt_action(
        lambda: subscriptions.pay_open_invoice(practice, current_user, key, invoice_id),
        _("Invoice paid. Thank you!"),
    )


# --- the retention offer (issue 17) -----------------------------------------------------------------


@bp.post("/<int:practice_id>/billing/retention/accept")
@login_required
@billing_action("retention_accept")
def retention_accept(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    """Keep the subscription with the offer's coupon (applied once at Stripe, whatever the tabs)."""
    try:
        offer = retention.accept_offer(practice, current_user, request.form.get("coupon") or None)
    except unconfirmed.OutcomeUnknown as unknown:
        return Outcome(message=unknown.message, status=unknown.status)
    except (errors.PracticeError, BillingError) as error:
        return Outcome(error=error.message, status=error.status)
    return Outcome(
        message=_(
            "Thank you for staying: %(terms)s applies from the next invoice.", terms=said_terms(offer.terms)
        )
    )


@bp.post("/<int:practice_id>/billing/retention/decline")
@login_required
@billing_action("retention_decline", changes_billing=False)
def retention_decline(practice: Practice, member: PracticeMember, key: str) -> Outcome:
    """No thanks: the cancellation form, opened (the offer is not made again)."""
    try:
        retention.decline_offer(practice, current_user)
    except errors.PracticeError as error:
        return Outcome(error=error.message, status=error.status)
    g.open_cancel = True
    return Outcome(message=_("Tell us why you are cancelling, then confirm."))
