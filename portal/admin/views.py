"""Admin pages. Every route needs a logged-in platform admin (anonymous: login; others: 403)."""

from __future__ import annotations

import json
import secrets
import time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.admin import numbers, practice_detail
from portal.database import utcnow
from portal.extensions import db, login_manager
from portal.formatting import format_money
from portal.forms import amount_text
from portal.gateway.errors import BillingError
from portal.jobs import failures as failed_jobs
from portal.jobs import nightly
from portal.practices import closing, history, members, pausing, plans, refunds, unconfirmed
from portal.practices.errors import PracticeError
from portal.practices.forms import ClosePracticeForm, PauseCollectionForm, RefundInvoiceForm
from portal.practices.models import Practice
from portal.practices.status import BillingStatus
from portal.promotions import codes as promotion_codes
from portal.promotions import retention as retention_setting
from portal.promotions.errors import PromotionError
from portal.promotions.forms import PromotionCodeForm, RetentionCouponForm
from portal.urls import page_arg
from portal.webhooks import services
from portal.webhooks.models import EventStatus, WebhookEvent

bp = Blueprint("admin", __name__, url_prefix="/admin")

EVENTS_PER_PAGE = 25
JOBS_PER_PAGE = 25
PRACTICES_PER_PAGE = 50

REPLAY_MESSAGES = {
    services.Outcome.PROCESSED: ("success", _l("Event %(id)s replayed: processed.")),
    services.Outcome.IGNORED: ("info", _l("Event %(id)s has no handler; marked ignored.")),
    services.Outcome.FAILED: ("error", _l("Event %(id)s failed again; see its last error.")),
    services.Outcome.DUPLICATE: ("info", _l("Event %(id)s was already handled; nothing to replay.")),
}


def _page_of(select, per_page: int):
    """The page the query string asks for (``?page=``), a page past the end empty, never a 404."""
    return db.paginate(
        select, per_page=per_page, max_per_page=per_page, page=page_arg(), error_out=False, count=True
    )


@bp.before_request
def require_admin():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


@bp.get("/")
def index():
    return render_template(
        "admin/index.html",
        counts=services.status_counts(),
        alerts=services.alerts(),
        practice_counts=_practice_counts(),
        failed_jobs=failed_jobs.waiting_count(),
        report=nightly.latest(),
    )


def _practice_counts() -> dict[BillingStatus, int]:
    counts = dict.fromkeys(BillingStatus, 0)
    for practice in db.session.scalars(members.all_practices()):
        counts[practice.billing_status] += 1
    return counts


@bp.get("/numbers")
def business_numbers():
    """The business in numbers over the last 12 months, from local tables (no Stripe call)."""
    currencies = plans.practice_currencies()
    others = tuple(numbers.list_prices(currency) for currency in currencies[1:])
    return render_template(
        "admin/numbers.html",
        numbers=numbers.business_numbers(utcnow(), numbers.list_prices(currencies[0]), others),
        columns=numbers.SUBSCRIPTION_COLUMNS,
        major=numbers.major_units,
        other_prices={prices.currency: prices for prices in others},
    )


@bp.get("/practices")
def practice_list():
    """Every practice with its billing status, from the local mirror (no Stripe call)."""
    status = request.args.get("status")
    status = status if status in {s.value for s in BillingStatus} else None
    page = _page_of(members.all_practices(status), PRACTICES_PER_PAGE)
    return render_template(
        "admin/practices.html",
        page=page,
        status=status,
        statuses=list(BillingStatus),
        owner_of=members.owner_of,
    )


@bp.get("/practices/<int:practice_id>")
def practice(practice_id: int):
    """One practice as its billing stands: status, plan, subscription, invoices, its Stripe events."""
    return _practice_page(practice_id, ClosePracticeForm(formdata=None))


def _practice_page(
    practice_id: int,
    close_form: ClosePracticeForm,
    status: int = 200,
    *,
    pause_form: PauseCollectionForm | None = None,
    refund: tuple[str, RefundInvoiceForm, str | None] | None = None,
):
    """The page; ``refund``: the invoice whose refund form comes back as posted, with its refusal."""
    row = db.get_or_404(Practice, practice_id)
    refunds.settle_practice(row)  # a refund Stripe left unanswered: learned now if Stripe answers
    if row.unconfirmed_call:  # a pause (or a manager's change) Stripe left unanswered: the same
        unconfirmed.confirm(row)  # call, the same key, learns its outcome if Stripe answers now
    page = render_template(
        "admin/practice.html",
        practice=row,
        owner=members.owner_of(row),
        invoices=history.invoice_page(row, 1, per_page=20),
        audit=history.audit_page(row, 1, per_page=20),
        events=practice_detail.events_about(row),
        close_form=close_form,
        pause_form=pause_form or PauseCollectionForm(formdata=None),
        refund_forms=_refund_forms(row, refund),
        refund_error=refund[2] if refund else None,
        refund_for=refund[0] if refund else None,
    )
    return page, status


def _refund_form(invoice, most: int, *, posted: bool = False) -> RefundInvoiceForm:
    """The invoice's refund form (its fields prefixed: one form per invoice on the page)."""
    data = {} if posted else {"formdata": None}
    return RefundInvoiceForm(
        prefix=f"refund-{invoice.id}", most=max(most, 1), currency=invoice.currency, **data
    )


def _refund_forms(practice: Practice, posted) -> list[tuple]:
    """(invoice, what is left to refund, its form) for each paid invoice with something left."""
    forms = []
    for invoice, left in refunds.refundable_invoices(practice):
        if posted and posted[0] == invoice.stripe_id:
            form = posted[1]
        else:
            form = _refund_form(invoice, left)
            form.amount.data = amount_text(left, invoice.currency)
            form.attempt.data = secrets.token_urlsafe(18)  # a new form, a new refund attempt
        form.draw(left)
        forms.append((invoice, left, form))
    if posted and posted[0] not in {invoice.stripe_id for invoice, _, _ in forms}:
        forms.insert(0, (posted[3], 0, posted[1]))
    return forms


@bp.post("/practices/<int:practice_id>/invoices/<invoice_id>/refund")
def refund_invoice(practice_id: int, invoice_id: str):
    """Refund some or all of a paid invoice as a credit note; refused forms come back as typed."""
    practice = db.get_or_404(Practice, practice_id)
    invoice = refunds.practice_invoice(practice, invoice_id)  # or 404
    prefix = f"refund-{invoice.id}-"
    attempt = request.form.get(prefix + "attempt")
    row = refunds.by_attempt(invoice, attempt)  # a double submit: done
    if row is None:
        form = _refund_form(invoice, refunds.left_to_refund(invoice), posted=True)
        refusal = form.validate() and _refused_refund(practice_id, invoice_id, form)
        # Made, or refused because the same form's first post refunded meanwhile (it held the
        # invoice's lock): a double submit answers what that post did.
        row = refunds.by_attempt(invoice, attempt)
        if row is None:
            message, status = refusal or (form.form_problem, 422)
            if not message and not form.errors:  # never a refusal without words
                message = _("This form has expired. Reload the page and try again.")
            answer = (invoice_id, form, message, invoice)
            return _practice_page(practice_id, ClosePracticeForm(formdata=None), status, refund=answer)
    number = invoice.number or invoice.stripe_id
    flash(
        _(
            "Refunded %(amount)s of invoice %(number)s.",
            amount=format_money(row.amount, row.currency),
            number=number,
        ),
        "success",
    )
    return redirect(url_for(".practice", practice_id=practice_id), 303)


def _refused_refund(practice_id: int, invoice_id: str, form: RefundInvoiceForm) -> tuple[str, int] | None:
    """Make the form's refund; None if made, else the refusal's (message, status)."""
    try:
        refunds.refund_invoice(
            current_user,
            practice_id,
            invoice_id,
            form.minor_amount,
            form.reason.data,
            form.note.data,
            form.attempt.data,
            drawn_left=form.drawn_left,
        )
    except (PracticeError, BillingError) as error:
        db.session.rollback()
        return error.message, error.status
    return None


@bp.post("/practices/<int:practice_id>/deactivate")
def deactivate(practice_id: int):
    """Close the practice (the page's confirm step: a reason and a ticked box); Stripe first. A
    refused form comes back with its messages under the fields and the reason as typed."""
    db.get_or_404(Practice, practice_id)
    form = ClosePracticeForm()
    if not form.validate():
        return _practice_page(practice_id, form, status=422)
    _attempt(lambda: closing.deactivate(practice_id, current_user, form.reason.data))
    return redirect(url_for(".practice", practice_id=practice_id), 303)


@bp.post("/practices/<int:practice_id>/reactivate")
def reactivate(practice_id: int):
    db.get_or_404(Practice, practice_id)
    _attempt(
        lambda: closing.reactivate(practice_id, current_user),
        _("The practice is open again: its managers can subscribe again."),
    )
    return redirect(url_for(".practice", practice_id=practice_id), 303)


@bp.post("/practices/<int:practice_id>/pause-collection")
def pause_collection(practice_id: int):
    """Pause payment collection (a reason, an optional resume day); Stripe first. A refused form
    comes back with its messages under the fields and what was typed."""
    db.get_or_404(Practice, practice_id)
    form = PauseCollectionForm()
    if not form.validate():
        return _practice_page(practice_id, ClosePracticeForm(formdata=None), 422, pause_form=form)
    _attempt(
        lambda: pausing.pause_collection(practice_id, current_user, form.reason.data, form.resumes_on.data)
    )
    return redirect(url_for(".practice", practice_id=practice_id), 303)


@bp.post("/practices/<int:practice_id>/resume-collection")
def resume_collection(practice_id: int):
    db.get_or_404(Practice, practice_id)
    _attempt(lambda: pausing.resume_collection(practice_id, current_user))
    return redirect(url_for(".practice", practice_id=practice_id), 303)


def _attempt(action, success: str | None = None) -> None:
    """Run the action; flash ``success``, else what the action answered, or its refusal."""
    try:
        answer = action()
    except (PracticeError, BillingError) as error:
        db.session.rollback()  # Stripe did not end it, or nothing to do: nothing changes here
        flash(error.message, "warning" if error.status < 400 else "error")  # 202: not known yet
    else:
        flash(success or answer, "success")


def _filters() -> dict[str, str]:
    """The list filters from the query string (or the replay form), invalid ones dropped."""
    source = request.values
    filters = {}
    if source.get("status") in {s.value for s in EventStatus}:
        filters["status"] = source["status"]
    if source.get("type"):
        filters["type"] = source["type"][:255]
    return filters


@bp.get("/events")
def events():
    filters = _filters()
    status = EventStatus(filters["status"]) if "status" in filters else None
    page = _page_of(services.list_events(status, filters.get("type")), EVENTS_PER_PAGE)
    return render_template(
        "admin/events.html",
        page=page,
        filters=filters,
        statuses=list(EventStatus),
        types=services.event_types(),
    )


@bp.get("/events/<int:event_id>")
def event(event_id: int):
    row = db.get_or_404(WebhookEvent, event_id)
    try:
        payload = json.dumps(json.loads(row.payload), indent=2, sort_keys=True)
    except ValueError:
        payload = row.payload
    return render_template("admin/event.html", event=row, payload=payload)


@bp.post("/events/<int:event_id>/replay")
def replay(event_id: int):
    row = db.get_or_404(WebhookEvent, event_id)
    page = page_arg(request.form)  # the list page to return to; checked before the replay
    stripe_event_id = row.stripe_event_id
    outcome = services.process_event(row.id)
    category, message = REPLAY_MESSAGES[outcome]
    flash(message % {"id": stripe_event_id}, category)
    if request.form.get("next") == "detail":
        return redirect(url_for(".event", event_id=event_id), 303)
    return redirect(url_for(".events", **_filters(), page=page), 303)


@bp.get("/jobs")
def jobs():
    """Jobs that failed for good (with Retry), and the last nightly comparison with Stripe."""
    page = _page_of(failed_jobs.failed_jobs(), JOBS_PER_PAGE)
    return render_template(
        "admin/jobs.html", page=page, report=nightly.latest(), describe=failed_jobs.describe
    )


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    page = page_arg(request.form)
    job = failed_jobs.find(job_id) or abort(404)
    outcome = failed_jobs.retry(job)
    message, category = failed_jobs.RETRY_MESSAGES[outcome]
    flash(_(message, name=failed_jobs.describe(job).label), category)
    return redirect(url_for(".jobs", page=page), 303)


# --- promotion codes and the retention offer (issue 17) -------------------------------------------


@bp.get("/promotions")
def promotions():
    """The platform's promotion codes, refreshed from Stripe in one list call (how often each was
    used: Stripe sends no event when a code is redeemed), and the retention coupon setting."""
    now = promotion_codes.refresh_codes()
    return _promotions_page(PromotionCodeForm(formdata=None), _retention_form(formdata=None), now=now)


def _promotions_page(
    code_form: PromotionCodeForm,
    retention_form: RetentionCouponForm,
    status: int = 200,
    now: int | None = None,
):
    now = now or int(time.time())
    page = render_template(
        "admin/promotions.html",
        code_status=lambda code: promotion_codes.status_of(code, now),
        code_words=promotion_codes.status_words,
        codes=promotion_codes.codes_page(page_arg()),
        code_form=code_form,
        retention_form=retention_form,
        retention=retention_setting.current_retention_coupon(),
        retention_drawn=retention_setting.drawn_setting(),
        attempt=promotion_codes.attempt_key(),
    )
    return page, status


def _retention_form(**kwargs) -> RetentionCouponForm:
    """Its fields named ``retention-...``: the page also holds the code form's fields."""
    return RetentionCouponForm(prefix="retention", **kwargs)


def _form_attempt() -> str:
    attempt = request.form.get("attempt", "")
    return attempt if attempt.isalnum() and 8 <= len(attempt) <= 64 else promotion_codes.attempt_key()


@bp.post("/promotions/codes")
def create_promotion_code():
    """A refused form comes back with its messages under the fields and what was typed kept."""
    form = PromotionCodeForm()
    if not form.validate():
        return _promotions_page(form, _retention_form(formdata=None), status=422)
    try:
        row = promotion_codes.create_code(form, current_user, _form_attempt())
    except (PromotionError, BillingError) as error:
        db.session.rollback()
        form.code.errors = [*form.code.errors, error.message]
        return _promotions_page(
            form, _retention_form(formdata=None), status=error.status if error.status >= 400 else 422
        )
    flash(_("Promotion code %(code)s is ready to use.", code=row.code), "success")
    return redirect(url_for(".promotions"), 303)


@bp.post("/promotions/codes/<int:code_id>/disable")
def disable_promotion_code(code_id: int):
    row = db.get_or_404(promotion_codes.PromotionCode, code_id)
    attempt = _form_attempt()  # the drawn form's key: a second turn-off later is a new request
    _attempt(
        lambda: promotion_codes.set_active(row.id, False, attempt),
        _("Promotion code %(code)s is turned off.", code=row.code),
    )
    return redirect(url_for(".promotions"), 303)


@bp.post("/promotions/retention")
def configure_retention():
    form = _retention_form()
    if not form.validate():
        return _promotions_page(PromotionCodeForm(formdata=None), form, status=422)
    try:
        retention_setting.configure_retention(
            form, current_user, _form_attempt(), request.form.get("retention_drawn")
        )
    except (PromotionError, BillingError) as error:
        db.session.rollback()
        flash(error.message, "error")
        return _promotions_page(PromotionCodeForm(formdata=None), form, status=error.status)
    flash(_("The retention offer is set: owners who start cancelling see it once."), "success")
    return redirect(url_for(".promotions"), 303)


@bp.post("/promotions/retention/off")
def retention_off():
    retention_setting.turn_off_retention()
    flash(_("No retention offer is made now."), "success")
    return redirect(url_for(".promotions"), 303)
