"""The Billing tab's page for an invoice whose payment the bank wants confirmed (3-D Secure): where
Pay now leads when the bank asks, and the banner's and the email's "Complete authentication"."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.gateway.errors import BillingError
from portal.practices import bank_check
from portal.practices.models import Practice
from portal.practices.views.common import bp, load_manager
from portal.words import stored_words


def bank_check_url(practice_id: int, invoice_id: str, **query: str) -> str:
    return url_for("practices.authenticate_payment", practice_id=practice_id, invoice_id=invoice_id, **query)


def _back_to_billing(practice: Practice, invoice_id: str, problem: str | None = None):
    """To the Billing tab, saying the invoice is paid, or ``problem``."""
    paid = bank_check.paid_words(practice, invoice_id)
    if paid or problem:
        flash(paid or stored_words(problem), "success" if paid else "error")
    return redirect(url_for("practices.billing", practice_id=practice.id), code=303)


@bp.get("/<int:practice_id>/invoices/<invoice_id>/authenticate")
@login_required
def authenticate_payment(practice_id: int, invoice_id: str):
    """Stripe.js confirms the invoice's payment and runs the bank's challenge, then posts back."""
    practice, _member = load_manager(practice_id)
    try:
        check = bank_check.start(practice, invoice_id, current_user)
    except (BillingError, bank_check.CannotConfirm) as error:
        return _back_to_billing(practice, invoice_id, error.message)
    if check is None:  # paid, voided or not collected meanwhile
        return _back_to_billing(practice, invoice_id, bank_check.nothing_to_pay_words(practice, invoice_id))
    return render_template(
        "practices/authenticate.html",
        practice=practice,
        check=check,
        # Back from a failed try, the person starts the next one: the challenge does not reopen by itself.
        autostart=not request.args.get("tried"),
    )


@bp.post("/<int:practice_id>/invoices/<invoice_id>/authenticate")
@login_required
def finish_authentication(practice_id: int, invoice_id: str):
    """After the challenge (done, failed or closed): Stripe says whether the invoice is paid."""
    practice, _member = load_manager(practice_id)
    try:
        problem = bank_check.finish(practice, invoice_id, current_user)
    except (BillingError, bank_check.CannotConfirm) as error:
        return _back_to_billing(practice, invoice_id, error.message)
    if problem is None:
        return _back_to_billing(practice, invoice_id)
    if problem == bank_check.CONFIRMED_PENDING:
        flash(stored_words(problem), "success")
        return redirect(url_for("practices.billing", practice_id=practice.id), code=303)
    flash(stored_words(problem), "error")
    return redirect(bank_check_url(practice.id, invoice_id, tried="1"), code=303)
