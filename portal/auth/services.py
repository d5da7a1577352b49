"""Account operations: plain functions that views, the API and tests call."""

from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from portal.api.tokens import revoke_user_tokens
from portal.auth import tokens
from portal.auth.models import Role, User, UserSession
from portal.auth.passwords import burn_verification_time, hash_password, verify_password
from portal.database import utcnow
from portal.extensions import db
from portal.mail.services import send_email
from portal.practices import ownership
from portal.wallet import customers


class AccountError(Exception):
    """A business-rule refusal, with a message fit for the person who asked."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class EmailTaken(AccountError):
    def __init__(self) -> None:
        super().__init__("An account with this email already exists.", field="email")


class PasswordRequired(AccountError):
    def __init__(self) -> None:
        super().__init__(
            "Changing the email needs your current password: send it as currentPassword.",
            field="current_password",
        )


class OwnsBilledPractice(AccountError):
    """The account owns a practice that is still billed: deleting it would leave nobody in charge."""

    def __init__(self, names: list[str]) -> None:
        practices = " and ".join(names)
        super().__init__(
            f"You own {practices}, which {'is' if len(names) == 1 else 'are'} still billed, so your account "
            "cannot be deleted yet. Transfer ownership to another member (Make owner, on the practice's "
            "People tab) or cancel the subscription first, then delete your account.",
            field="password",
        )


INVALID_RESET_LINK = "This reset link is invalid, used or expired. Ask for a new one."


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def register_user(
    name: str, email: str, password: str, role: Role = Role.USER, *, verified: bool = False
) -> User:
    """Create the account, then its Stripe customer (which may be deferred if Stripe is down).

    ``verified`` is for accounts an operator creates (``create-admin``, ``seed-demo``):
    the address counts as confirmed and no confirmation email is sent, which also
    keeps those commands working without a request or SERVER_NAME to build links from.
    """
    email = normalize_email(email)
    if find_user_by_email(email) is not None:
        raise EmailTaken()
    user = User(name=name.strip(), email=email, password_hash=hash_password(password), role=role)
    if verified:
        user.email_verified = True
        user.email_verified_at = utcnow()
    db.session.add(user)
    try:
        db.session.commit()
    except sa.exc.IntegrityError as exc:  # a concurrent registration won the race
        db.session.rollback()
        raise EmailTaken() from exc
    customers.create_user_customer(user)
    if not verified:
        send_verification_email(user)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; the same work either way."""
    user = find_user_by_email(email)
    if user is None:
        burn_verification_time(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return user


def open_session(user: User) -> UserSession:
    """A fresh server-side session for a login (never reuses an earlier one)."""
    login = UserSession(user_id=user.id)
    db.session.add(login)
    db.session.commit()
    user.current_session_key = login.key
    return login


def close_session(key: str | None) -> None:
    if key:
        db.session.execute(sa.delete(UserSession).where(UserSession.key == key))
        db.session.commit()


#: Built once: this runs on every authenticated request (see bench/README.md, page_cost).
_USER_BY_SESSION = (
    sa.select(User)
    .join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.key == sa.bindparam("key"))
)


def load_session_user(key: str) -> User | None:
    """The user of a live login session: one query on every authenticated request."""
    user = db.session.scalar(_USER_BY_SESSION, {"key": key})
    if user is None:  # logged out, or the account is gone
        return None
    user.current_session_key = key
    return user


def revoke_credentials(user: User, *, keep_session: str | None = None, keep_token: str | None = None) -> None:
    """End the user's login sessions (and so their remember-me cookies, which name one) and API
    tokens, but the one the change was made through. The caller commits it with the change."""
    logins = sa.delete(UserSession).where(UserSession.user_id == user.id)
    if keep_session:
        logins = logins.where(UserSession.key != keep_session)
    db.session.execute(logins)
    revoke_user_tokens(user, keep=keep_token)


def confirm_password(user: User, password: object) -> None:
    """Raise ``PasswordRequired`` unless ``password`` is the user's current one."""
    if not isinstance(password, str) or not password or not verify_password(user.password_hash, password):
        raise PasswordRequired()


def update_profile(user: User, name: str, email: str, *, keep_token: str | None = None) -> bool:
    """Save name and email; returns whether Stripe is in sync afterwards.

    A new email is a new way into the account (password resets go there): every other login and
    API token ends with the change; the session (or ``keep_token``) that made it goes on.
    """
    email = normalize_email(email)
    if email != user.email:
        other = find_user_by_email(email)
        if other is not None and other.id != user.id:
            raise EmailTaken()
    email_changed = email != user.email
    user.name = name.strip()
    user.email = email
    if email_changed:
        user.email_verified = False
        user.email_verified_at = None
        revoke_credentials(user, keep_session=user.current_session_key, keep_token=keep_token)
    try:
        db.session.commit()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise EmailTaken() from exc
    if email_changed:
        send_verification_email(user)
    in_sync = customers.update_user_customer(user)
    if email_changed:
        in_sync = ownership.owner_contact_changed(user) and in_sync
    return in_sync


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password):
        raise AccountError("Your current password is not correct.", field="current_password")
    _set_password(user, new_password)


def _set_password(user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    # Every login and API token ends when the password changes; the caller opens a new login.
    revoke_credentials(user)
    db.session.commit()


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; says nothing either way."""
    user = find_user_by_email(email)
    if user is None:
        return
    link = url_for("auth.reset_password", token=tokens.make_reset_token(user), _external=True)
    send_email(user.email, "Reset your password", "reset_password", user=user, link=link)


def reset_password(token: str, new_password: str) -> User:
    user = tokens.load_reset_token(token)
    if user is None:
        raise AccountError(INVALID_RESET_LINK)
    _set_password(user, new_password)
    return user


def send_verification_email(user: User) -> None:
    link = url_for("auth.verify_email", token=tokens.make_verify_token(user), _external=True)
    send_email(user.email, "Confirm your email address", "verify_email", user=user, link=link)


def verify_email(token: str) -> User:
    user = tokens.load_verify_token(token)
    if user is None:
        raise AccountError("This verification link is invalid or expired.")
    if not user.email_verified:
        user.email_verified = True
        user.email_verified_at = utcnow()
        db.session.commit()
    return user


def delete_account(user: User, password: str) -> bool:
    """Delete the account and its Stripe customer; returns whether Stripe confirmed."""
    if not verify_password(user.password_hash, password):
        raise AccountError("Your password is not correct.", field="password")
    return delete_user(user)


def delete_user(user: User) -> bool:
    """Delete the user and their Stripe customer; returns whether Stripe confirmed now.

    Refused (``OwnsBilledPractice``) while the user owns a practice that is still billed. Every
    login, remember-me cookie, API token and membership ends in the transaction that deletes the
    user, whatever the database cascades.
    """
    billed = ownership.billed_practices_owned_by(user)
    if billed:
        raise OwnsBilledPractice([practice.name for practice in billed])
    revoke_credentials(user)
    departure = ownership.leave_practices(user)
    in_sync = customers.delete_user_customer_and_user(user)  # commits all of it at once
    return ownership.finish_departure(departure) and in_sync
