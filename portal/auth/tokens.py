"""Signed, expiring links for password reset and email verification.

A reset token carries a fingerprint of the current password hash, so it stops
working the moment it is used (single use) or the password changes otherwise.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.auth.models import User
from portal.extensions import db

_RESET_SALT = "password-reset"
_VERIFY_SALT = "email-verify"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def make_reset_token(user: User) -> str:
    return _serializer(_RESET_SALT).dumps({"uid": user.id, "pw": _fingerprint(user.password_hash)})


def load_reset_token(token: str) -> User | None:
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE"]
    try:
        data = _serializer(_RESET_SALT).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("uid"))
    if user is None or data.get("pw") != _fingerprint(user.password_hash):
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
