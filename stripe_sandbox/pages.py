"""Pages a browser sees: dashboard, 3-D Secure challenge, checkout, invoices, portal, Stripe.js."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import flask
from flask import Blueprint, Response, abort, redirect, request, url_for

from stripe_sandbox import checkout
from stripe_sandbox.billing.clock import advance_clock
from stripe_sandbox.billing.collection import pay_invoice
from stripe_sandbox.billing.common import DAY, DEFAULTS, setting
from stripe_sandbox.core import RequestInfo, clean
from stripe_sandbox.currencies import format_amount
from stripe_sandbox.delivery import MODES
from stripe_sandbox.errors import SandboxError
from stripe_sandbox.payments import authentication
from stripe_sandbox.payments.customers import attach_payment_method, create_payment_method
from stripe_sandbox.pdf import bill_to, credit_note_pdf, invoice_pdf
from stripe_sandbox.web import current_sandbox
from stripe_sandbox.words import LOCALES, messages_in, money_in, page_locale, translator

STATIC = Path(__file__).parent / "static"

#: The sandbox's own pages: no inline script; forms post to the sandbox only.
PAGE_CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors *; form-action 'self' http: https:"


def money(amount: int, currency: str) -> str:
    """In the currency's own units: ``250,000 VND`` for ``amount=250000`` (a zero-decimal currency)."""
    return f"{'-' if amount < 0 else ''}{format_amount(abs(amount), currency or 'usd')}"


def _card_fields(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    digits = re.sub(r"\D", "", form.get("expiry", ""))
    card = {
        "number": form.get("number", ""),
        "exp_month": digits[:2] or "0",
        "exp_year": digits[2:] or "0",
        "cvc": re.sub(r"\D", "", form.get("cvc", "")),
    }
    details = {"name": form.get("name") or "", "email": form.get("email") or ""}
    return card, {k: v for k, v in details.items() if v}


#: The tax ID types the hosted Checkout page offers (Stripe offers the types of the buyer's country).
CHECKOUT_TAX_ID_TYPES = (
    ("eu_vat", "EU VAT"),
    ("gb_vat", "GB VAT"),
    ("us_ein", "US EIN"),
    ("vn_tin", "VN TIN"),
)


def _collected_fields(form: Any) -> dict[str, Any]:
    """The billing address, business name and tax ID typed on the hosted Checkout page."""
    address = {key: form.get(f"address_{key}", "").strip() for key in checkout.ADDRESS_FIELDS}
    tax_value = form.get("tax_id_value", "").strip()
    return {
        "address": {
            **{k: v or None for k, v in address.items()},
            "country": address["country"].upper() or None,
        }
        if any(address.values())
        else None,
        "business_name": form.get("business_name", "").strip() or None,
        "tax_id": {"type": form.get("tax_id_type", ""), "value": tax_value} if tax_value else None,
    }


bp = Blueprint("sandbox_pages", __name__)


@bp.before_request
def remember_origin() -> None:
    sb = current_sandbox()
    sb.public_url = request.host_url.rstrip("/")


@bp.after_request
def headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    return response


def page(template: str, locale: str = LOCALES[0], **context: Any) -> str:
    """A hosted page in ``locale``: its words (``t``) and amounts (``money``) as that language writes them."""
    return flask.render_template(
        f"sandbox/{template}", locale=locale, t=translator(locale), money=money_in(locale), **context
    )


def _locale(*chosen: str | None) -> str:
    """The page's language: the first of ``chosen`` the pages are written in, else the browser's."""
    return page_locale(chosen, request.accept_languages.best_match)


def _customer_locale(customer_id: str | None, *fallbacks: str | None) -> str:
    """Stripe's language for a customer's pages: its ``preferred_locales``, then ``fallbacks``."""
    customer = current_sandbox().get(customer_id or "") or {}
    return _locale(*(customer.get("preferred_locales") or []), *fallbacks)


# Stripe.js and its assets ------------------------------------------------------------------


@bp.get("/v3/")
@bp.get("/v3")
def stripe_js() -> Response:
    response = flask.send_from_directory(STATIC, "stripe.js", mimetype="application/javascript", max_age=0)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/v3/assets/<name>")
def asset(name: str) -> Response:
    if name not in {"sandbox.css", "card-element.css", "card-element.js", "challenge.js"}:
        abort(404)
    response = flask.send_from_directory(STATIC, name, max_age=0)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/v3/messages")
def stripe_js_messages() -> Response:
    """The messages Stripe.js shows (card errors, declines) in ``locale``: Stripe.js says an API
    error in the language it was created with."""
    response = flask.jsonify(messages_in(_locale(request.args.get("locale"))))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/v3/elements/card")
def card_element() -> str:
    """In the ``locale`` Stripe.js was created with (else the browser's), its messages included."""
    locale = _locale(request.args.get("locale"))
    return page("card_element.html", locale, messages=json.dumps(messages_in(locale), ensure_ascii=False))


# dashboard ----------------------------------------------------------------------------------


@bp.get("/")
def dashboard() -> str:
    sb = current_sandbox()
    now = sb.now()
    events = clean(sb.all("event")[:25])
    return page(
        "dashboard.html",
        now=now,
        now_text=dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        offset_days=round(int(sb.setting("clock_offset", 0)) / DAY, 2),
        events=events,
        webhook_url=sb.webhook_url,
        mode=sb.deliverer.mode,
        delay=sb.deliverer.delay_seconds,
        waiting=sb.deliverer.waiting()[:25],
        modes=MODES,
        strict=sb.strict,
        rate_limit=sb.rate_limit,
        per_second=sb.limiter.per_second,
        settings={name: setting(sb, name) for name in DEFAULTS},
    )


@bp.post("/dashboard/advance")
def dashboard_advance() -> Response:
    sb = current_sandbox()
    days = float(request.form.get("days", "1"))
    with sb.transaction(RequestInfo()):
        advance_clock(sb, int(days * DAY))
    return redirect(url_for("sandbox_pages.dashboard"), code=303)


@bp.post("/dashboard/delivery")
def dashboard_delivery() -> Response:
    sb = current_sandbox()
    mode = request.form.get("mode", "ordered")
    if mode in MODES:
        sb.deliverer.configure(mode, float(request.form.get("delay_seconds") or 0))
    return redirect(url_for("sandbox_pages.dashboard"), code=303)


# 3-D Secure ---------------------------------------------------------------------------------


@bp.get("/challenge/<intent_id>")
def challenge(intent_id: str) -> str:
    sb = current_sandbox()
    intent = sb.get(intent_id)
    if intent is None or intent.get("object") not in ("setup_intent", "payment_intent"):
        abort(404)
    # The payer's language: the customer's, else the one Stripe.js was created with, else the browser's.
    locale = _customer_locale(intent.get("customer"), request.args.get("locale"))
    amount = (
        money_in(locale)(intent["amount"], intent["currency"])
        if "amount" in intent
        else translator(locale)("saving your card")
    )
    return page(
        "challenge.html",
        locale,
        intent=intent,
        amount_text=amount,
        return_url=request.args.get("return_url"),
    )


@bp.post("/challenge/<intent_id>/<outcome>")
def challenge_answer(intent_id: str, outcome: str) -> Any:
    sb = current_sandbox()
    if outcome not in ("complete", "fail"):
        abort(404)
    intent = sb.get(intent_id)
    if intent is None:
        abort(404)
    try:
        with sb.transaction(RequestInfo()):
            authentication.authenticate(sb, intent_id, outcome == "complete")
    except SandboxError as error:
        if not error.keep_changes:
            locale = _customer_locale(intent.get("customer"))
            return page(
                "challenge.html", locale, intent=sb.get(intent_id), amount_text="", return_url=None
            ), 409
    intent = sb.require(intent_id)
    return_url = request.form.get("return_url") or sb.meta(intent_id).get("return_url")
    if return_url:
        kind = intent["object"]
        query = {
            kind: intent_id,
            f"{kind}_client_secret": intent["client_secret"],
            "redirect_status": "succeeded" if intent["status"] == "succeeded" else "failed",
        }
        separator = "&" if "?" in return_url else "?"
        return redirect(return_url + separator + urlencode(query), code=303)
    locale = _customer_locale(intent.get("customer"))
    return page("challenge.html", locale, intent=intent, done=True, outcome=outcome, amount_text="")


# checkout -----------------------------------------------------------------------------------


def _session(session_id: str) -> dict[str, Any]:
    sb = current_sandbox()
    session = sb.get(session_id)
    if session is None or session.get("object") != "checkout.session":
        abort(404)
    return session


def _checkout_page(
    session_id: str, error: str | None = None, status: int = 200, code_error: str | None = None
) -> tuple[str, int]:
    sb = current_sandbox()
    session = _session(session_id)
    meta = sb.meta(session_id)
    items = meta.get("line_items", [])
    form = request.form if request.method == "POST" else {}
    promo_id = next(
        (d.get("promotion_code") for d in meta.get("discounts") or [] if d.get("promotion_code")), None
    )
    code = (sb.get(promo_id) or {}).get("code") if promo_id else None
    return page(
        "checkout.html",
        _locale(session.get("locale")),  # Stripe's: the session's locale; "auto" or none, the browser's
        session=session,
        items=items,
        error=error,
        form=form,
        tax_types=CHECKOUT_TAX_ID_TYPES,
        code=code,
        code_error=code_error,
        trial_days=meta.get("trial_period_days"),
        after_trial=meta.get("after_trial") or {},
    ), status


@bp.get("/checkout/<session_id>")
def checkout_page(session_id: str) -> tuple[str, int]:
    return _checkout_page(session_id)


@bp.post("/checkout/<session_id>/pay")
def checkout_pay(session_id: str) -> Any:
    sb = current_sandbox()
    session = _session(session_id)
    card, details = _card_fields(request.form)
    if request.form.get("email") and not session.get("customer_email"):
        details["email"] = request.form["email"]
    try:
        with sb.transaction(RequestInfo()):
            pm = checkout.start_payment(sb, session_id, card, details, _collected_fields(request.form))
            if checkout.needs_authentication(sb, pm["id"]):
                # Show the bank's challenge first; it comes back to /checkout/<id>/authenticated.
                sb.update_meta(session_id, pending_payment_method=pm["id"])
                target = url_for("sandbox_pages.checkout_challenge", session_id=session_id)
                return redirect(target, code=303)
            success = checkout.complete_payment(sb, session_id, pm["id"])
    except SandboxError as error:
        return _checkout_page(session_id, error.message, 402 if error.status == 402 else 400)
    return redirect(success, code=303)


@bp.post("/checkout/<session_id>/promotion_code")
def checkout_promotion_code(session_id: str) -> Any:
    """The hosted page's "Add promotion code": Stripe's page checks the code before the payer pays."""
    sb = current_sandbox()
    _session(session_id)
    try:
        with sb.transaction(RequestInfo()):
            checkout.apply_promotion_code(sb, session_id, request.form.get("promotion_code", ""))
    except SandboxError as error:
        return _checkout_page(session_id, status=400, code_error=error.message)
    return redirect(url_for("sandbox_pages.checkout_page", session_id=session_id), code=303)


@bp.get("/checkout/<session_id>/challenge")
def checkout_challenge(session_id: str) -> str:
    session = _session(session_id)
    action = url_for("sandbox_pages.checkout_authenticated", session_id=session_id)
    return page("checkout_challenge.html", _locale(session.get("locale")), action=action)


@bp.post("/checkout/<session_id>/authenticated")
def checkout_authenticated(session_id: str) -> Any:
    sb = current_sandbox()
    _session(session_id)
    pm_id = sb.meta(session_id).get("pending_payment_method")
    if not pm_id:
        return redirect(url_for("sandbox_pages.checkout_page", session_id=session_id), code=303)
    if request.form.get("outcome") != "complete":
        message = (
            "We are unable to authenticate your payment method. Please choose a different payment method."
        )
        return _checkout_page(session_id, message, 402)
    try:
        with sb.transaction(RequestInfo()):
            success = checkout.complete_payment(sb, session_id, pm_id, authenticated=True)
    except SandboxError as error:
        return _checkout_page(session_id, error.message, 402)
    return redirect(success, code=303)


# hosted invoice page and PDF ---------------------------------------------------------------


def _invoice(invoice_id: str) -> dict[str, Any]:
    sb = current_sandbox()
    invoice = sb.get(invoice_id)
    if invoice is None or invoice.get("object") != "invoice":
        abort(404)
    return invoice


def _invoice_page(invoice_id: str, error: str | None = None, status: int = 200) -> tuple[str, int]:
    sb = current_sandbox()
    invoice = _invoice(invoice_id)
    action_url = None
    for payment in invoice["payments"]["data"]:
        pi = sb.get(payment["payment"]["payment_intent"] or "")
        if pi and pi["status"] == "requires_action" and invoice["status"] == "open":
            back = url_for("sandbox_pages.invoice_page", invoice_id=invoice_id, _external=True)
            action_url = url_for("sandbox_pages.challenge", intent_id=pi["id"], return_url=back)
    context = {"invoice": invoice, "error": error, "action_url": action_url, "bill_to": bill_to(invoice)}
    return page("invoice.html", _customer_locale(invoice.get("customer")), **context), status


@bp.get("/invoices/<invoice_id>")
def invoice_page(invoice_id: str) -> tuple[str, int]:
    return _invoice_page(invoice_id)


@bp.post("/invoices/<invoice_id>/pay")
def invoice_pay(invoice_id: str) -> Any:
    sb = current_sandbox()
    invoice = _invoice(invoice_id)
    card, details = _card_fields(request.form)
    try:
        with sb.transaction(RequestInfo()):
            pm = create_payment_method(sb, {"type": "card", "card": card, "billing_details": details})
            attach_payment_method(sb, pm["id"], {"customer": invoice["customer"]})
            pay_invoice(sb, invoice_id, {"payment_method": pm["id"], "off_session": "false"})
    except SandboxError as error:
        if error.code == "invoice_payment_intent_requires_action":
            return redirect(url_for("sandbox_pages.invoice_page", invoice_id=invoice_id), code=303)
        return _invoice_page(invoice_id, error.message, 402)
    return redirect(url_for("sandbox_pages.invoice_page", invoice_id=invoice_id), code=303)


@bp.get("/invoices/<invoice_id>/pdf")
def invoice_pdf_view(invoice_id: str) -> Response:
    invoice = _invoice(invoice_id)
    return Response(
        invoice_pdf(invoice, money),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice.get("number") or invoice_id}.pdf"'},
    )


bp.add_url_rule("/invoices/<invoice_id>/pdf", "invoice_pdf", invoice_pdf_view)


@bp.get("/credit_notes/<note_id>/pdf")
def credit_note_pdf_view(note_id: str) -> Response:
    """A credit note's ``pdf``, as Stripe serves one for each note it issues."""
    note = current_sandbox().get(note_id)
    if note is None or note.get("object") != "credit_note":
        abort(404)
    return Response(
        credit_note_pdf(note, _invoice(note["invoice"]), money),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{note["number"]}.pdf"'},
    )


@bp.get("/receipts/<intent_id>")
def receipt(intent_id: str) -> str:
    sb = current_sandbox()
    pi = sb.get(intent_id)
    if pi is None:
        abort(404)
    return f"<!doctype html><title>Receipt</title><p>Receipt for {money(pi['amount'], pi['currency'])}.</p>"


# billing portal -----------------------------------------------------------------------------


@bp.get("/billing_portal/<session_id>")
def billing_portal(session_id: str) -> str:
    sb = current_sandbox()
    session = sb.get(session_id)
    if session is None or session.get("object") != "billing_portal.session":
        abort(404)
    customer = sb.get(session["customer"]) or {"id": session["customer"]}
    return page("portal.html", session=session, customer=customer)
