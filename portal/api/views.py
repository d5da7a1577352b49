"""JSON endpoints of the source guide. Bearer tokens only: cookies never authenticate here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, g, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from portal.after_response import run_after_response
from portal.api import envelope
from portal.api.envelope import ApiError
from portal.api.openapi import OPENAPI_DOCUMENT
from portal.auth import api_tokens as tokens
from portal.auth import services as accounts
from portal.auth.forms import ProfileForm, RegisterForm
from portal.extensions import db
from portal.gateway.ids import InvalidStripeId, stripe_id
from portal.practices import members as practice_members
from portal.practices.models import Practice
from portal.shop import errors, purchases
from portal.text import first_problem_in
from portal.throttle import refund_request_limits, throttled
from portal.urls import is_row_id
from portal.users.models import User
from portal.wallet import services as wallet

#: Exempt from CSRF by ``register_blueprints``: bearer tokens, no cookies to ride on.
bp = Blueprint("api", __name__)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    return envelope.fail(error.code or 500, error.name.lower().replace(" ", "_"), error.description or "")


def bearer_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "Send an access token: Authorization: Bearer <token>.")
        user = tokens.user_for_token(token.strip())
        if user is None:
            raise ApiError(401, "unauthorized", "The access token is invalid, expired or revoked.")
        g.api_user = user
        g.api_token = token.strip()
        return view(*args, **kwargs)

    return wrapper


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object with Content-Type: application/json.")
    refused = first_problem_in(body)  # the forms' rule for text, on every string of the body
    if refused:
        where, problem = refused
        raise ApiError(400, "validation_error", f"{where}: {problem}")
    return body


def validated(form_class, data: dict):
    """Run the same validators as the HTML forms; the first message per field comes back."""
    form = form_class(
        formdata=MultiDict({k: v for k, v in data.items() if isinstance(v, str)}), meta={"csrf": False}
    )
    if not form.validate():
        field, messages = next(iter(form.errors.items()))
        raise ApiError(400, "validation_error", f"{field}: {messages[0]}")
    return form


def user_json(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role.value,
        "stripeCustomerId": user.stripe_customer_id,
        "isEmailVerified": user.email_verified,
    }


def card_json(card) -> dict:
    return {
        "id": card.stripe_id,
        "type": "card",
        "customer": card.customer_id,
        "isDefault": card.is_default,
        "card": {
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        },
    }


def target_user(user_id: int) -> User:
    """Users read and change only themselves; platform admins anyone."""
    me: User = g.api_user
    if me.id != user_id and not me.is_admin:
        raise ApiError(403, "forbidden", "You can only access your own account.")
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, "not_found", "No user with that id.")
    return user


def _utc_iso(moment) -> str | None:
    return None if moment is None else moment.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def entitlement_json(practice: Practice) -> dict:
    """What the clinic's other software asks: may the practice use the service, and until when."""
    return {
        "practice_id": practice.id,
        "status": practice.billing_status.value,
        "access": practice.has_access,
        "until": _utc_iso(practice.access_until),
        "plan": practice.plan.value if practice.plan else None,
    }


@bp.get("/api/practices/<int:practice_id>/entitlement")
@bearer_required
def entitlement(practice_id: int):
    """Members only; anyone else gets the same 404 as an unknown id, so ids cannot be probed."""
    found = practice_members.practice_of_member(practice_id, g.api_user)
    if found is None:
        raise ApiError(404, "not_found", "No practice with that id.")
    return envelope.ok(entitlement_json(found[0]))


@bp.get("/openapi.json")
def openapi():
    return OPENAPI_DOCUMENT


#: The answer to a registration, for a new email and a taken one alike (the taken one's owner is emailed).
REGISTRATION_ANSWER = (
    "We sent a message to {email}. A new account can log in now (POST /auth/login); "
    "follow the email's link to confirm the address."
)


@bp.post("/users")
@throttled(
    "REGISTER_THROTTLE", "REGISTER_EMAIL_THROTTLE", "Too many registrations. Wait a while and try again."
)
def create_user():
    """Register: 202 and the same body whether or not the email has an account; no token here."""
    try:
        data = json_body()
        form = validated(RegisterForm, {**data, "confirm": data.get("password")})
    except ApiError:
        refund_request_limits()  # a request with mistakes is not a registration
        raise
    new_user = accounts.register_or_notify(form.name.data, form.email.data, form.password.data)
    if new_user is not None:
        # Once the answer has gone out, so a new address answers as fast as a taken one.
        run_after_response(accounts.create_registered_customer, new_user.id)
    email = accounts.normalize_email(form.email.data)
    return envelope.ok({"email": email, "message": REGISTRATION_ANSWER.format(email=email)}, 202)


@bp.post("/auth/login")
@throttled("LOGIN_THROTTLE", "LOGIN_EMAIL_THROTTLE", "Too many failed login attempts. Wait a minute.")
def create_token():
    data = json_body()
    user = accounts.authenticate(str(data.get("email", "")), str(data.get("password", "")))
    if user is None:
        raise ApiError(401, "invalid_credentials", "That email and password do not match an account.")
    refund_request_limits()  # only failed attempts count
    return envelope.ok({"user": user_json(user), "access_token": tokens.issue_token(user)})


@bp.post("/auth/logout")
@bearer_required
def revoke_token():
    tokens.revoke_token(g.api_token)
    return envelope.ok({"revoked": True})


@bp.get("/users/<int:user_id>")
@bearer_required
def get_user(user_id: int):
    return envelope.ok(user_json(target_user(user_id)))


@bp.patch("/users/<int:user_id>")
@bearer_required
def update_user(user_id: int):
    user = target_user(user_id)
    data = json_body()
    form = validated(ProfileForm, {"name": user.name, "email": user.email, **data})
    # A new email changes only once the address confirms it (a link is emailed to it); whether
    # another account uses it is never said, here or on the profile page. A token alone never
    # asks for it: that would move the account to an address where password resets go.
    pending = accounts.normalize_email(form.email.data) != user.email
    try:
        in_sync = accounts.update_profile(
            user,
            form.name.data,
            form.email.data,
            current_password=data.get("currentPassword"),
            confirmed_by=g.api_user,
        )
    except accounts.PasswordRequired as error:
        message = f"{error.message} Send it as currentPassword."
        raise ApiError(403, "current_password_required", message) from None
    return envelope.ok({**user_json(user), "stripeSynced": in_sync, "emailChangePending": pending})


@bp.delete("/users/<int:user_id>")
@bearer_required
def delete_user(user_id: int):
    in_sync = accounts.delete_user(target_user(user_id))  # refused: OwnsBilledPractice, 409
    return envelope.ok({"deleted": True, "stripeSynced": in_sync})


@bp.get("/payments/customer/payment-methods")
@bearer_required
def list_payment_methods():
    return envelope.ok([card_json(card) for card in wallet.list_cards(g.api_user.stripe_customer_id)])


def _payment_method_id(data: dict) -> str:
    try:
        return stripe_id(data.get("paymentMethodId"), "payment_method_id")
    except InvalidStripeId as error:
        raise ApiError(400, "validation_error", f"paymentMethodId: {error.message}") from None


@bp.post("/payments/customer/payment-methods")
@bearer_required
def attach_payment_method():
    payment_method_id = _payment_method_id(json_body())
    card = wallet.attach_card(wallet.user_wallet(g.api_user), payment_method_id)
    return envelope.ok(card_json(card), 201)


@bp.delete("/payments/customer/payment-methods/<payment_method_id>")
@bearer_required
def detach_payment_method(payment_method_id: str):
    wallet.remove_card(wallet.user_wallet(g.api_user), payment_method_id)
    return envelope.ok({"id": payment_method_id, "detached": True})


@bp.patch("/payments/customer/default-payment-method")
@bearer_required
def set_default_payment_method():
    payment_method_id = _payment_method_id(json_body())
    card = wallet.make_default(wallet.user_wallet(g.api_user), payment_method_id)
    return envelope.ok(card_json(card))


@bp.post("/payments/customer/setup-intent")
@bearer_required
def create_setup_intent():
    client_secret = wallet.start_card_setup(wallet.user_wallet(g.api_user))
    return envelope.ok({"clientSecret": client_secret}, 201)


@bp.post("/payments/create-intent")
@bearer_required
def create_payment_intent():
    """Buy a product: reserve stock, create the order and its PaymentIntent (see ``portal.shop``)."""
    data = json_body()
    product_id, quantity = data.get("productId"), data.get("quantity", 1)
    if isinstance(product_id, str) and product_id.isdigit():
        product_id = int(product_id)
    if isinstance(product_id, bool) or not isinstance(product_id, int):
        raise ApiError(400, "validation_error", "productId: send the id of a product.")
    if not is_row_id(product_id):
        raise ApiError(404, "not_found", errors.ProductNotFound().message)
    currency = data.get("currency")
    if currency is not None and not isinstance(currency, str):
        raise ApiError(400, "validation_error", "currency: send an ISO currency code, like usd.")
    payment_method_id = data.get("paymentMethodId")
    if payment_method_id is not None:
        payment_method_id = _payment_method_id(data)
    result = purchases.purchase(g.api_user, product_id, quantity, payment_method_id, currency=currency)
    order = result.order
    return envelope.ok(
        {
            "orderId": order.id,
            "paymentIntentId": order.payment_intent_id,
            "status": order.status.value,
            "paymentIntentStatus": result.payment_intent_status,
            "amount": order.amount,
            "currency": order.currency,
            "quantity": order.quantity,
            "clientSecret": result.client_secret,
            "requiresAction": result.requires_action,
        },
        201,
    )
