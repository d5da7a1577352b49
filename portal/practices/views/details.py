"""The Billing tab's billing details: owners and admins save them (to Stripe's customer first),
members read them. A refused save (a field, Stripe's ``tax_id_invalid``, Stripe down) answers
with the form as typed and the message where it belongs."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user, login_required

from portal.extensions import db
from portal.gateway.errors import BillingError
from portal.htmx import fragment_or_redirect, render_page_or_fragment
from portal.practices import billing_details
from portal.practices.billing_details import ADDRESS_FIELDS, BillingDetails, InvalidTaxId
from portal.practices.forms import BillingDetailsForm
from portal.practices.models import Practice, PracticeMember
from portal.practices.views.common import billing_context, bp, load_manager

SAVED = "Billing details saved. Stripe prints them on the practice's next invoices."
CORRECT_BELOW = "Please correct the fields marked below; nothing was saved."


def details_from(form: BillingDetailsForm) -> BillingDetails:
    tax_value = (form.tax_id_value.data or "").strip()
    return BillingDetails(
        billing_email=(form.billing_email.data or "").strip() or None,
        legal_name=(form.legal_name.data or "").strip() or None,
        address={key: (getattr(form, f"address_{key}").data or "").strip() or None for key in ADDRESS_FIELDS},
        new_tax_id=(form.tax_id_type.data, tax_value) if tax_value else None,
        remove_tax_ids=posted_removals(),
    )


def posted_removals() -> frozenset[int]:
    return frozenset(int(v) for v in request.form.getlist("remove_tax_id") if v.isdigit())


@bp.post("/<int:practice_id>/billing/details")
@login_required
def save_details(practice_id: int):
    practice, member = load_manager(practice_id)  # a member is refused (403), nothing read
    form = BillingDetailsForm()
    if not form.validate_on_submit():
        return _refused(practice, member, form, CORRECT_BELOW, 422)
    try:
        billing_details.save_billing_details(practice, details_from(form), current_user)
    except InvalidTaxId as refused:
        form.tax_id_value.errors = [refused.message]
        return _refused(practice, member, form, CORRECT_BELOW, refused.status)
    except BillingError as error:  # Stripe down or refusing: nothing saved, the form as typed
        db.session.rollback()
        return _refused(practice, member, form, f"{error.message} Nothing was saved.", error.status)
    return fragment_or_redirect(
        "practices/billing.html",
        "practices/partials/_billing_details.html",
        url_for("practices.billing", practice_id=practice.id),
        lambda: billing_context(practice, member, details_message=SAVED),
        message=SAVED,
    )


def _refused(practice: Practice, member: PracticeMember, form: BillingDetailsForm, error: str, status: int):
    """The form again as typed, its messages under the fields: the section for htmx, else the page
    (a redirect would lose what was typed)."""
    context = billing_context(
        practice, member, details_form=form, details_error=error, removing=posted_removals()
    )
    return render_page_or_fragment(
        "practices/billing.html", "practices/partials/_billing_details.html", status, **context
    )
