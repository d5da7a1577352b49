"""Signed, expiring links for password reset, email verification and email change.

A reset or email-change token carries a fingerprint of the account's credentials (its
credential version, password hash and email, ``_credentials_stamp``), so it stops working
the moment it is used or the email or password changes any other way: a confirmed email
change, a password change or reset ends every link sent before it.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.extensions import db
from portal.users.models import User

_RESET_SALT = "password-reset"
_VERIFY_SALT = "email-verify"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _credentials_stamp(user: User) -> str:
    """Changes with the email, the password and the credential version (which every change of
    either raises, so an email changed away and back still ends old links)."""
    return _fingerprint(f"{user.credential_version}:{user.password_hash}:{user.email}")


def make_reset_token(user: User) -> str:
    return _serializer(_RESET_SALT).dumps({"uid": user.id, "cred": _credentials_stamp(user)})


def load_reset_token(token: str) -> User | None:
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE"]
    try:
        data = _serializer(_RESET_SALT).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("uid"))
    if user is None or data.get("cred") != _credentials_stamp(user):
        return None
    return user


def make_verify_token(user: User) -> str:
    return _serializer(_VERIFY_SALT).dumps({"uid": user.id, "email": user.email})


def load_verify_token(token: str) -> User | None:
    max_age = current_app.config["EMAIL_VERIFY_MAX_AGE"]
    try:
        data = _serializer(_VERIFY_SALT).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("uid"))
    if user is None or user.email != data.get("email"):
        return None
    return user


_EMAIL_CHANGE_SALT = "email-change"


def make_email_change_token(user: User, new_email: str) -> str:
    """A link for the new address: it changes the email once, and only while the credentials it was
    sent for (the old email, the password) are current."""
    return _serializer(_EMAIL_CHANGE_SALT).dumps(
        {"uid": user.id, "new": new_email, "cred": _credentials_stamp(user)}
    )


def load_email_change_token(token: str) -> tuple[User, str] | None:
    """(the user, the new address) of a valid, unused email-change link."""
    max_age = current_app.config["EMAIL_VERIFY_MAX_AGE"]
    try:
        data = _serializer(_EMAIL_CHANGE_SALT).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("uid"))
    if user is None or data.get("cred") != _credentials_stamp(user) or not data.get("new"):
        return None
    return user, data["new"]
