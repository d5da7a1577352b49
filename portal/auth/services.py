"""Account operations: plain functions that views, the API and tests call."""

from __future__ import annotations

import flask_babel
import sqlalchemy as sa
from babel.lists import format_list
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from portal.auth import tokens
from portal.auth.api_tokens import revoke_user_tokens
from portal.auth.passwords import burn_verification_time, hash_password, verify_password
from portal.customers import users as customers
from portal.customers.lifecycle import delete_queued_customer
from portal.database import utcnow
from portal.errors import UserError
from portal.extensions import db
from portal.i18n import current_locale
from portal.mail.outbox import queue_email
from portal.practices import ownership
from portal.throttle import count_attempt
from portal.users.lookup import find_user_by_email, normalize_email
from portal.users.models import Role, User, UserSession
from portal.wallet import services as wallet

CURRENT_PASSWORD_THROTTLED = _l(
    "Too many wrong current passwords for this account. Wait 15 minutes, then try again "
    "(or reset your password from the login page)."
)
EMAIL_CHANGE_THROTTLED = _l("Too many email changes asked for. Wait an hour, then try again.")


class AccountError(UserError):
    """A business-rule refusal, with a message fit for the person who asked."""

    status = 422
    code = "account_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)


class EmailTaken(AccountError):
    status = 409
    code = "email_taken"

    def __init__(self) -> None:
        super().__init__(_("An account with this email already exists."), field="email")


class PasswordRequired(AccountError):
    status = 403
    code = "current_password_required"

    def __init__(self) -> None:
        super().__init__(_("Changing the email needs your current password."), field="current_password")


class OwnsBilledPractice(AccountError):
    """The account owns a practice that is still billed: deleting it would leave nobody in charge."""

    status = 409
    code = "owns_practice"

    def __init__(self, names: list[str]) -> None:
        practices = format_list(names, locale=flask_babel.get_locale() or "en")  # "A and B", "A và B"
        super().__init__(
            ngettext(
                "You own %(practices)s, which is still billed, so your account cannot be deleted yet. "
                "Transfer ownership to another member (Make owner, on the practice's People tab) or "
                "cancel the subscription first, then delete your account.",
                "You own %(practices)s, which are still billed, so your account cannot be deleted yet. "
                "Transfer ownership to another member (Make owner, on the practice's People tab) or "
                "cancel the subscription first, then delete your account.",
                len(names),
                practices=practices,
            ),
            field="password",
        )


INVALID_RESET_LINK = _l("This reset link is invalid, used or expired. Ask for a new one.")


def register_user(
    name: str,
    email: str,
    password: str,
    role: Role = Role.USER,
    *,
    verified: bool = False,
    create_customer: bool = True,
    locale: str | None = None,
) -> User:
    """Create the account, then its Stripe customer (which may be deferred if Stripe is down).

    ``create_customer=False`` defers the customer to its first need or ``flask billing retry``.

    The confirmation email is queued in the transaction that creates the account.
    ``verified`` is for accounts an operator creates (``create-admin``, ``seed-demo``):
    the address counts as confirmed and no confirmation email is sent, which also
    keeps those commands working without a request or SERVER_NAME to build links from.
    ``locale``: the account's language (``users.locale``), e.g. the one it signed up in.
    """
    email = normalize_email(email)
    password_hash = hash_password(password)  # first: a taken email costs the same hashing as a new one
    if find_user_by_email(email) is not None:
        raise EmailTaken()
    user = User(name=name.strip(), email=email, password_hash=password_hash, role=role, locale=locale)
    if verified:
        user.email_verified = True
        user.email_verified_at = utcnow()
    db.session.add(user)
    try:
        db.session.flush()  # the id, for the confirmation link
        if not verified:
            _queue_verification(user)
        db.session.commit()
    except sa.exc.IntegrityError as exc:  # a concurrent registration won the race
        db.session.rollback()
        raise EmailTaken() from exc
    if create_customer:
        customers.create_user_customer(user)
    return user


def register_or_notify(name: str, email: str, password: str, locale: str | None = None) -> User | None:
    """Registration that never tells whether the email has an account: the new account, or None.

    A new address gets its account and a confirmation link; a taken one gets an
    email to its owner ("someone tried to register with your email") and nothing
    else changes. Either way one password hash, one email queued, one commit, and
    the caller answers the same. No Stripe call here: it would make a new address
    measurably slower than a taken one. The caller creates the customer once the
    answer is sent (``create_registered_customer``); ``flask billing retry`` and the
    first action that needs it are the fallbacks. ``locale``: the new account's language.
    """
    try:
        return register_user(name, email, password, create_customer=False, locale=locale)
    except EmailTaken:
        owner = find_user_by_email(email)
        if owner is None:  # deleted in between: nothing to tell anyone
            return None
        _tell_the_address_owner(owner, _l("Someone tried to register with your email"), "register_attempt")
        db.session.commit()
        return None


def _tell_the_address_owner(owner: User, subject: object, template: str) -> None:
    """Someone tried to use this person's address: say so, with the ways back into the account."""
    queue_email(
        owner.email,
        subject,
        template,
        user=owner,
        login_link=url_for("auth.login", _external=True),
        reset_link=url_for("auth.forgot_password", _external=True),
    )


def create_registered_customer(user_id: int) -> None:
    """The Stripe customer of a new account, unless it has one or the account is gone already."""
    user = db.session.get(User, user_id)
    if user is not None and user.stripe_customer_id is None:
        customers.create_user_customer(user)


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


def is_current_password(user: User, password: object) -> bool:
    """Whether ``password`` is the user's current one: the one check of every form that asks for it.

    Each guess counts against CURRENT_PASSWORD_THROTTLE for the account, before it is checked (so
    concurrent guesses cannot all slip under it); a right one is given back, so only wrong ones
    add up. Over the limit, ``Throttled`` (429), right password or not.
    """
    if not isinstance(password, str) or not password:
        return False
    attempt = count_attempt("CURRENT_PASSWORD_THROTTLE", f"user:{user.id}", CURRENT_PASSWORD_THROTTLED)
    if verify_password(user.password_hash, password):
        attempt.refund()
        return True
    return False


def confirm_password(user: User, password: object) -> None:
    """Raise ``PasswordRequired`` unless ``password`` is the user's current one."""
    if not is_current_password(user, password):
        raise PasswordRequired()


def _authorize_email_change(user: User, new_email: str, password: object, confirmed_by: User | None) -> None:
    """The current password, then one request of EMAIL_CHANGE_THROTTLE per account and per new
    address (each request emails that address): ``PasswordRequired`` or ``Throttled`` otherwise."""
    confirm_password(confirmed_by or user, password)
    count_attempt("EMAIL_CHANGE_THROTTLE", f"user:{user.id}", EMAIL_CHANGE_THROTTLED)
    count_attempt("EMAIL_CHANGE_THROTTLE", f"email:{new_email}", EMAIL_CHANGE_THROTTLED)


def update_profile(
    user: User, name: str, email: str, *, current_password: object = None, confirmed_by: User | None = None
) -> bool:
    """Save the name; a new email is only requested (see ``request_email_change``), and only with
    the current password (``PasswordRequired`` otherwise, before anything is saved).

    Returns whether Stripe is in sync afterwards.
    """
    new_email = normalize_email(email)
    if new_email != user.email:
        _authorize_email_change(user, new_email, current_password, confirmed_by)
    user.name = name.strip()
    db.session.commit()
    _ask_to_confirm(user, new_email)
    return customers.update_user_customer(user)


def request_email_change(
    user: User, new_email: str, *, current_password: object, confirmed_by: User | None = None
) -> bool:
    """Ask the new address to confirm; the email changes only when it does. True if one was asked.

    A new email is where password resets go, so asking needs the current password of the user
    (or of ``confirmed_by``, an admin acting for them): ``PasswordRequired`` otherwise.
    Never says whether the address is taken: a taken address gets a note to its
    owner instead of a link, and the person changing their email sees the same
    answer either way. The current address is told either way.
    """
    new_email = normalize_email(new_email)
    if new_email == user.email:
        return False
    _authorize_email_change(user, new_email, current_password, confirmed_by)
    return _ask_to_confirm(user, new_email)


def _ask_to_confirm(user: User, new_email: str) -> bool:
    """``request_email_change`` once the password is confirmed."""
    if new_email == user.email:
        return False
    owner = find_user_by_email(new_email)
    if owner is None:
        link = url_for(
            "auth.confirm_email_change", token=tokens.make_email_change_token(user, new_email), _external=True
        )
        subject = _l("Confirm your new email address")
        queue_email(
            new_email, subject, "confirm_email_change", locale=_own_language(user), user=user, link=link
        )
    else:
        _tell_the_address_owner(owner, _l("Someone asked to use your email address"), "email_change_attempt")
    _tell_the_old_address(
        user, user.email, new_email, _l("Your email address is being changed"), "email_change_requested"
    )
    db.session.commit()
    return True


def _tell_the_old_address(user: User, old_email: str, new_email: str, subject: object, template: str) -> None:
    """The account's current (or former) address hears of every email change, with the way to stop
    one that is not theirs: a password reset, which also ends the change's link."""
    reset_link = url_for("auth.forgot_password", _external=True)
    queue_email(old_email, subject, template, user=user, new_email=new_email, reset_link=reset_link)


def _own_language(user: User) -> str:
    """The language of an email the person asked for, sent to an address of theirs no account has
    yet (a new one): their saved one, else the page's they asked on (``queue_email`` writes to an
    account's address in the language that account chose)."""
    return user.locale or current_locale()


def confirm_email_change(token: str, *, keep_session: str | None = None) -> tuple[User, bool]:
    """Apply a confirmed email change: (the user, whether Stripe is in sync).

    A new email is a new way into the account (password resets go there): every other login and
    every API token ends with the change; only ``keep_session`` (the browser that confirmed it, when
    it is logged in as this user) goes on.
    """
    found = tokens.load_email_change_token(token)
    if found is None:
        raise AccountError(_("This link is invalid, used or expired. Change your email again."))
    user, new_email = found
    if find_user_by_email(new_email) is not None:
        raise AccountError(_("That address now belongs to another account. Choose another one."))
    _tell_the_old_address(user, user.email, new_email, _l("Your email address was changed"), "email_changed")
    user.email = new_email
    user.email_verified = True  # following the link proved the address
    user.email_verified_at = utcnow()
    revoke_credentials(user, keep_session=keep_session)
    try:
        db.session.commit()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise AccountError(_("That address now belongs to another account. Choose another one.")) from exc
    in_sync = customers.update_user_customer(user)
    return user, ownership.owner_contact_changed(user) and in_sync


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not is_current_password(user, current_password):
        raise AccountError(_("Your current password is not correct."), field="current_password")
    _set_password(user, new_password)


def _set_password(user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    # Every login and API token ends when the password changes; the caller opens a new login.
    revoke_credentials(user)
    db.session.commit()


def request_password_reset(email: str) -> None:
    """Queue a reset link if the account exists; says nothing either way."""
    user = find_user_by_email(email)
    if user is None:
        return
    link = url_for("auth.reset_password", token=tokens.make_reset_token(user), _external=True)
    queue_email(user.email, _l("Reset your password"), "reset_password", user=user, link=link)
    db.session.commit()


def reset_password(token: str, new_password: str) -> User:
    user = tokens.load_reset_token(token)
    if user is None:
        raise AccountError(INVALID_RESET_LINK)
    _set_password(user, new_password)
    return user


def send_verification_email(user: User) -> None:
    """Queue a new confirmation link (sent after the commit, or later by ``send-emails``)."""
    _queue_verification(user)
    db.session.commit()


def _queue_verification(user: User) -> None:
    link = url_for("auth.verify_email", token=tokens.make_verify_token(user), _external=True)
    queue_email(user.email, _l("Confirm your email address"), "verify_email", user=user, link=link)


def verify_email(token: str) -> User:
    user = tokens.load_verify_token(token)
    if user is None:
        raise AccountError(_("This verification link is invalid or expired."))
    if not user.email_verified:
        user.email_verified = True
        user.email_verified_at = utcnow()
        db.session.commit()
    return user


def delete_account(user: User, password: str) -> bool:
    """Delete the account and its Stripe customer; returns whether Stripe confirmed."""
    if not is_current_password(user, password):
        raise AccountError(_("Your password is not correct."), field="password")
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
    in_sync = _delete_user_and_customer(user)  # commits all of it at once
    return ownership.finish_departure(departure) and in_sync


def _delete_user_and_customer(user: User) -> bool:
    """Delete the user; the customer now, or later if Stripe is down. True if now."""
    customer_id = user.stripe_customer_id
    if customer_id:
        wallet.forget_customer(customer_id)
    db.session.delete(user)
    db.session.commit()
    if customer_id is None:
        return True
    return delete_queued_customer(customer_id)
