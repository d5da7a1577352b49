"""The Billing tab's billing details: owners and admins save them (to Stripe's customer first),
members read them. A save acts once per form (``attempt``) and only from the details as they are
(``details_version``: a stale tab is told, what it typed kept). A refused save (a field, Stripe's
``tax_id_invalid``, Stripe down or cut off half-way) answers with the form as typed and the message
beside the Save button, where the person is looking."""

from __future__ import annotations

from flask import g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.gateway.errors import BillingError
from portal.htmx import fragment_or_redirect, render_page_or_fragment
from portal.practices import billing_details, intents
from portal.practices.billing_details import ADDRESS_FIELDS, BillingDetails, InvalidTaxId, PartlySaved
from portal.practices.forms import BillingDetailsForm
from portal.practices.intents import Outcome
from portal.practices.models import Practice, PracticeMember
from portal.practices.views.common import billing_context, bp, load_manager
from portal.text import N_

SAVED = N_("Billing details saved. Stripe prints them on the practice's next invoices.")
NOTHING_CHANGED = N_("Nothing to save: the billing details already read like this.")
CORRECT_ABOVE = N_("Please correct the fields marked above; nothing was saved.")
#: Not what the details now read: the other tab's save may still be at Stripe (its claim comes first).
STALE = N_(
    "Billing changed in another tab or window since this page was loaded. What you typed is kept "
    "here: reload the page to see the details as saved, then save again if yours should replace them."
)


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
    version = intents.posted_version(request.form.get("details_version"))
    if not form.validate_on_submit():
        return _refused(practice, member, form, _(CORRECT_ABOVE), 422, version)
    details = details_from(form)
    outcome = intents.run_once(
        practice.id,
        "details",
        intents.posted_key(request.form.get("attempt")),
        lambda: intents.in_step(
            practice.id, version, lambda: _save(practice, details), column=Practice.details_version
        ),
    )
    if outcome.error is None:
        return fragment_or_redirect(
            "practices/billing.html",
            "practices/partials/_billing_details.html",
            url_for("practices.billing", practice_id=practice.id),
            lambda: billing_context(practice, member, details_message=outcome.message),
            message=outcome.message,
        )
    if "tax_id_error" in g:
        form.tax_id_value.errors = [g.pop("tax_id_error")]
    if outcome == intents.STALE:  # the form as typed, told another tab saved
        return _refused(practice, member, form, _(STALE), outcome.status, None)
    # Nothing happened (the claim went back): the version as drawn. Settled (Stripe took part of
    # it, said so): the details' version now, so Save again finishes it.
    kept = None if outcome.settled else version
    return _refused(practice, member, form, outcome.error, outcome.status, kept)


# Guarded like every billing action (once per form, only from the version drawn), by hand: its
# refusals keep the form as typed, which ``billing_action``'s answers (the billing area) cannot.
save_details.billing_action = "details"


def _save(practice: Practice, details: BillingDetails) -> Outcome:
    """One save, claimed: its outcome; ``settled=False`` when nothing happened (the claim goes back)."""
    try:
        saved = billing_details.save_billing_details(practice, details, current_user)
    except InvalidTaxId as refused:
        g.tax_id_error = refused.message  # under the field
        return Outcome(error=_(CORRECT_ABOVE), status=refused.status, settled=False)
    except PartlySaved as partly:
        return Outcome(error=partly.message, status=partly.status)
    except BillingError as error:  # Stripe never took any of it: nothing saved, the form as typed
        return Outcome(
            error=_("%(problem)s Nothing was saved.", problem=error.message),
            status=error.status,
            settled=False,
        )
    return Outcome(message=_(SAVED)) if saved else Outcome(message=_(NOTHING_CHANGED), settled=False)


def _refused(
    practice: Practice,
    member: PracticeMember,
    form: BillingDetailsForm,
    error: str,
    status: int,
    version: int | None,
):
    """The form again as typed, its messages under the fields and beside Save: the section for
    htmx, else the page (a redirect would lose what was typed). It carries ``version``, the one
    it was drawn from (None: the details' version now, once the person has been told of a change)."""
    context = billing_context(
        practice,
        member,
        details_form=form,
        details_error=error,
        removing=posted_removals(),
        details_version=version,
    )
    return render_page_or_fragment(
        "practices/billing.html", "practices/partials/_billing_details.html", status, **context
    )
