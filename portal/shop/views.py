"""Shop pages: products, buying with a saved card, orders, and the admin's product pages. Thin views."""

from __future__ import annotations

import secrets
from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from portal.extensions import db
from portal.formatting import format_money
from portal.gateway.errors import BillingError
from portal.shop import catalog, errors, purchases, refunds
from portal.shop import orders as shop_orders
from portal.shop.forms import BuyForm, ProductForm, RefundOrderForm
from portal.shop.models import OrderStatus
from portal.shop.settlement import said
from portal.urls import page_arg
from portal.wallet import services as wallet_services

bp = Blueprint("shop", __name__, url_prefix="/shop")


bp.add_app_template_filter(said, "said")  # an order's kept message, in the reader's language


def _paid_message(order) -> str:
    return _(
        "Thank you! Order #%(order)s is paid. A receipt is on its way to %(email)s.",
        order=order.id,
        email=order.receipt_email,
    )


def _me():
    return current_user._get_current_object()


def _product(product_id: int, *, include_inactive: bool = False):
    return catalog.get_product(product_id, include_inactive=include_inactive)  # or ProductNotFound, 404


def _order(order_id: int):
    return shop_orders.get_user_order(_me(), order_id)  # or OrderNotFound, 404


# --- buying ---------------------------------------------------------------------------------------------


@bp.get("/")
@login_required
def products():
    return render_template("shop/products.html", products=catalog.list_products())


def _render_product(product, form: BuyForm, cards: list, error: str | None = None, status: int = 200):
    return (
        render_template(
            "shop/product.html",
            product=product,
            form=form,
            cards=cards,
            error=error,
            max=purchases.MAX_QUANTITY,
        ),
        status,
    )


@bp.get("/products/<int:product_id>")
@login_required
def product(product_id: int):
    product = _product(product_id)
    cards = wallet_services.list_cards(current_user.stripe_customer_id)
    form = BuyForm(formdata=None)
    # After a failed authentication the buyer comes back here with what they had chosen.
    form.quantity.data = request.args.get("quantity", 1, type=int)
    form.payment_method.data = request.args.get("card") or None
    form.set_cards(cards)
    return _render_product(product, form, cards)


@bp.post("/products/<int:product_id>/buy")
@login_required
def buy(product_id: int):
    product = _product(product_id)
    cards = wallet_services.list_cards(current_user.stripe_customer_id)
    form = BuyForm()
    form.set_cards(cards, preselect=False)  # validate what was posted, not the default
    if not form.validate_on_submit():
        form.set_cards(cards)
        return _render_product(product, form, cards, status=422)
    form.set_cards(cards)
    try:
        result = purchases.purchase(_me(), product.id, form.quantity.data, form.payment_method.data)
    except (errors.ShopError, wallet_services.WalletError, BillingError) as error:
        # The form keeps the quantity and the card; Stripe's own words for a decline.
        return _render_product(product, form, cards, error=error.message, status=error.status)
    order = result.order
    if result.requires_action:
        return redirect(url_for("shop.authenticate", order_id=order.id), code=303)
    if order.status == OrderStatus.PAID:
        flash(_paid_message(order), "success")
    else:
        flash(_("Your payment is processing. This page will show when it completes."), "info")
    return redirect(url_for("shop.order", order_id=order.id), code=303)


@bp.get("/orders/<int:order_id>/authenticate")
@login_required
def authenticate(order_id: int):
    """Stripe.js runs the bank's check (3-D Secure), then posts back to ``confirm``."""
    order = _order(order_id)
    try:
        client_secret = shop_orders.authentication_client_secret(order)
    except BillingError as error:
        flash(error.message, "error")
        return redirect(url_for("shop.order", order_id=order.id))
    if client_secret is None:
        return redirect(url_for("shop.order", order_id=order.id))
    return render_template("shop/authenticate.html", order=order, client_secret=client_secret)


@bp.post("/orders/<int:order_id>/confirm")
@login_required
def confirm(order_id: int):
    _order(order_id)
    try:
        order = shop_orders.confirm_order(_me(), order_id)
    except BillingError as error:
        flash(error.message, "error")
        return redirect(url_for("shop.order", order_id=order_id), code=303)
    if order.status == OrderStatus.PAID:
        flash(_paid_message(order), "success")
    elif order.status == OrderStatus.FAILED:
        flash(said(order.failure_message) or _("The payment was not completed."), "error")
        return redirect(
            url_for(
                "shop.product",
                product_id=order.product_id,
                quantity=order.quantity,
                card=order.payment_method_id,
            ),
            code=303,
        )
    return redirect(url_for("shop.order", order_id=order.id), code=303)


@bp.get("/orders")
@login_required
def orders():
    return render_template("shop/orders.html", orders=shop_orders.list_orders(_me()))


@bp.get("/orders/<int:order_id>")
@login_required
def order(order_id: int):
    order = _order(order_id)
    return render_template("shop/order.html", order=order, refunded=refunds.refunded(order))


# --- platform admins ------------------------------------------------------------------------------------


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            raise errors.AdminsOnly()
        return view(*args, **kwargs)

    return wrapper


@bp.get("/admin/products")
@admin_required
def admin_products():
    return render_template("shop/admin/products.html", products=catalog.list_products(include_inactive=True))


def _product_fields(form: ProductForm) -> dict:
    return {
        "name": form.name.data.strip(),
        "description": (form.description.data or "").strip(),
        "price": form.price_minor,
        "currency": form.currency.data,
        "stock": form.stock.data,
        "active": form.active.data,
    }


@bp.route("/admin/products/new", methods=["GET", "POST"])
@admin_required
def admin_new_product():
    form = ProductForm()
    if form.validate_on_submit():
        product = catalog.create_product(**_product_fields(form))
        flash(_("%(product)s is in the shop.", product=product.name), "success")
        return redirect(url_for("shop.admin_products"), code=303)
    status = 200 if request.method == "GET" else 422
    return render_template("shop/admin/product_form.html", form=form, product=None), status


@bp.route("/admin/products/<int:product_id>/edit", methods=["GET", "POST"])
@admin_required
def admin_edit_product(product_id: int):
    product = _product(product_id, include_inactive=True)
    form = ProductForm(obj=product)
    if request.method == "GET":
        form.show_price(product.price)
    if form.validate_on_submit():
        catalog.update_product(product, **_product_fields(form))
        flash(_("%(product)s saved.", product=product.name), "success")
        return redirect(url_for("shop.admin_products"), code=303)
    status = 200 if request.method == "GET" else 422
    return render_template("shop/admin/product_form.html", form=form, product=product), status


@bp.get("/admin/orders")
@admin_required
def admin_orders():
    page = page_arg()
    orders, has_older = refunds.charged_orders(page)
    if page > 1 and not orders:
        abort(404)
    return render_template(
        "shop/admin/orders.html",
        orders=orders,
        page=page,
        has_older=has_older,
        refund_due=refunds.is_refund_due,
    )


def _render_admin_order(
    order, form: RefundOrderForm | None = None, error: str | None = None, status: int = 200
):
    left = refunds.units_left(order) if refunds.refundable(order) else 0
    if form is None:
        form = RefundOrderForm(formdata=None, most=max(left, 1))
        form.units.data = str(left) if left else ""
    if not form.attempt.data or status == 200:
        form.attempt.data = secrets.token_urlsafe(18)  # a new form, a new refund attempt
    form.draw(left)
    return (
        render_template(
            "shop/admin/order.html",
            order=order,
            form=form,
            left=left,
            refunded=refunds.refunded(order),
            rows=refunds.refunds_of(order),
            refund_due=refunds.is_refund_due(order),
            error=error,
        ),
        status,
    )


@bp.get("/admin/orders/<int:order_id>")
@admin_required
def admin_order(order_id: int):
    order = refunds.get_order(order_id)
    if order.pending_refund:  # a refund Stripe left unanswered: learned now if Stripe answers
        try:
            refunds.settle_pending(order)
            db.session.commit()
        except errors.RefundUnconfirmed:
            db.session.rollback()
        order = refunds.get_order(order_id)
    return _render_admin_order(order)


@bp.post("/admin/orders/<int:order_id>/refund")
@admin_required
def admin_refund_order(order_id: int):
    """Refund some units (or all) of the order; the form comes back as typed when refused."""
    order = refunds.get_order(order_id)
    attempt = request.form.get("attempt")
    row = refunds.by_attempt(order, attempt)  # a double submit: done already
    if row is None:
        left = refunds.units_left(order) if refunds.refundable(order) else 0
        form = RefundOrderForm(most=max(left, 1))
        refusal = None
        if form.validate():
            try:
                row = refunds.refund_order(
                    _me(),
                    order.id,
                    form.unit_count,
                    form.reason.data,
                    form.attempt.data,
                    drawn_units=form.drawn_left,
                )
                db.session.commit()
            except (errors.ShopError, BillingError) as error:
                db.session.rollback()
                refusal = error
        # Refused, but the same form's first post may have refunded meanwhile (it held the order's
        # lock): a double submit answers what that post did.
        row = row or refunds.by_attempt(refunds.get_order(order_id), attempt)
        if row is None:
            order = refunds.get_order(order_id)
            if refusal is None:
                return _render_admin_order(order, form, error=form.form_problem, status=422)
            return _render_admin_order(order, form, error=refusal.message, status=refusal.status)
    amount = format_money(row.amount, row.currency)
    if row.units:
        message = ngettext(
            "Refunded %(amount)s (%(num)d unit) of order #%(order)s.",
            "Refunded %(amount)s (%(num)d units) of order #%(order)s.",
            row.units,
            amount=amount,
            order=order.id,
        )
    else:
        message = _("Refunded %(amount)s of order #%(order)s.", amount=amount, order=order.id)
    flash(message, "success")
    return redirect(url_for("shop.admin_order", order_id=order.id), code=303)
