"""Account pages. Thin: parse the form, call a service, render or redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from portal.after_response import run_after_response
from portal.auth import services, tokens
from portal.auth.forms import (
    ChangePasswordForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
)
from portal.i18n import LOCALES, current_locale
from portal.practices import ownership
from portal.redirects import local_redirect_target
from portal.throttle import refund_request_limits, throttled
from portal.users import preferences
from portal.users.models import User
from portal.wallet.links import account_wallet

bp = Blueprint("auth", __name__)

INVALID_RESET_LINK = services.INVALID_RESET_LINK
STRIPE_DELAYED = _l(
    "Saved. Stripe could not be reached just now; your billing details will catch up shortly."
)


LOGIN_THROTTLED = _l("Too many failed login attempts. Wait a minute, then try again.")
REQUESTS_THROTTLED = _l("Too many requests. Wait a while and try again.")


def registered_message(email: str) -> str:
    """The same answer for a new email and a taken one (whose owner is emailed instead)."""
    return _(
        "Thanks. We sent a message to %(email)s: follow its link to confirm your address. "
        "You can log in now with your email and password.",
        email=email,
    )


def signed_up_in() -> str | None:
    """The language a person signs up in, kept as theirs when it is not the default: their emails
    (the confirmation link first, a practice's receipts later) have no browser to ask, and would
    otherwise go in English. English stays unsaved, so the browser's language still decides."""
    locale = current_locale()
    return locale if locale != LOCALES[0] else None


def email_change_asked_message(email: str) -> str:
    return _(
        "We sent a message to %(email)s. Your email address changes when you follow its link; "
        "until then it stays as it is.",
        email=email,
    )


def _me() -> User:
    """The logged-in user itself (not Flask-Login's proxy), for services and ``login_user``."""
    return current_user._get_current_object()


def _next_target() -> str | None:
    """The ``next`` the login was asked for, when it is a path on this site (else None)."""
    return local_redirect_target(request.args.get("next"), default=None)


def _renew_session() -> None:
    """Forget everything in the session, including this request's cached CSRF token."""
    session.clear()
    # Flask-WTF caches the signed token of the old session in ``g`` for the rest of the request.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _start_login(user: User, remember: bool) -> None:
    _renew_session()  # a new session at login: nothing from before survives
    services.open_session(user)
    login_user(user, remember=remember)


def _apply_field_error(form, error: services.AccountError) -> None:
    if error.field and hasattr(form, error.field):
        getattr(form, error.field).errors.append(error.message)
    else:
        flash(str(error.message), "error")


@bp.route("/register", methods=["GET", "POST"])
@throttled("REGISTER_THROTTLE", "REGISTER_EMAIL_THROTTLE", REQUESTS_THROTTLED)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = RegisterForm()
    if form.validate_on_submit():
        new_user = services.register_or_notify(
            form.name.data, form.email.data, form.password.data, locale=signed_up_in()
        )
        if new_user is not None:
            # Once the page has gone out, so a new address answers as fast as a taken one.
            run_after_response(services.create_registered_customer, new_user.id)
        flash(registered_message(services.normalize_email(form.email.data)), "success")
        return redirect(url_for("auth.login"))
    refund_request_limits()  # a form with mistakes is not an attempt
    return render_template("auth/register.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/login", methods=["GET", "POST"])
@throttled("LOGIN_THROTTLE", "LOGIN_EMAIL_THROTTLE", LOGIN_THROTTLED)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            _start_login(user, remember=form.remember.data)
            refund_request_limits()  # only failed attempts count
            return redirect(_next_target() or url_for("auth.account"))
        # One message for an unknown email and a wrong password.
        form.password.errors.append(_("That email and password do not match an account."))
    else:
        refund_request_limits()  # a form with mistakes is not a guess
    return _login_page(form, 200 if request.method == "GET" else 422)


def _login_page(form: LoginForm, status: int):
    # The form posts back the ``next`` it was asked for, only when it is one we would follow.
    return render_template("auth/login.html", form=form, next_target=_next_target()), status


@bp.post("/logout")
@login_required
def logout():
    services.close_session(current_user.current_session_key)
    logout_user()
    _renew_session()
    flash(_("You have been logged out."), "success")
    return redirect(url_for("auth.login"))


#: Throttled forms are shown again, with what was typed (never a password), instead of a bare error page.
THROTTLED_FORMS = {
    "auth.register": (RegisterForm, "auth/register.html"),
    "auth.login": (LoginForm, "auth/login.html"),
    "auth.forgot_password": (ForgotPasswordForm, "auth/forgot_password.html"),
    "auth.edit_profile": (ProfileForm, "account/profile.html"),
    "auth.change_password": (ChangePasswordForm, "account/password.html"),
}


@bp.errorhandler(429)
def too_many_requests(error):
    message = str(getattr(error, "description", None) or _("Too many requests. Wait a minute and try again."))
    page = THROTTLED_FORMS.get(request.endpoint or "")
    if page is None:
        return render_template("errors/error.html", code=429, description=message), 429
    form_class, template = page
    form = form_class()  # bound to the posted data, not validated: no field errors
    flash(message, "error")
    return render_template(template, form=form, next_target=_next_target()), 429


@bp.get("/account")
@login_required
def account():
    return render_template("account/account.html", **account_wallet(current_user))


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def edit_profile():
    form = ProfileForm(obj=current_user if request.method == "GET" else None)
    if form.validate_on_submit():
        new_email = services.normalize_email(form.email.data)
        email_changing = new_email != current_user.email
        try:
            in_sync = services.update_profile(
                _me(), form.name.data, new_email, current_password=form.current_password.data
            )
        except services.PasswordRequired as error:
            _apply_field_error(form, error)
            return render_template("account/profile.html", form=form), 422
        preferences.save_timezone(_me(), form.timezone.data)
        if email_changing:
            flash(email_change_asked_message(new_email), "success")
        flash(
            _("Your profile was saved.") if in_sync else str(STRIPE_DELAYED),
            "success" if in_sync else "warning",
        )
        return redirect(url_for("auth.account"))
    return render_template("account/profile.html", form=form), 200 if request.method == "GET" else 422


@bp.get("/account/email/<token>")
def confirm_email_change(token: str):
    try:
        # Only a session of the user whose email changed is kept (revoking matches on the user).
        keep = current_user.current_session_key if current_user.is_authenticated else None
        _user, in_sync = services.confirm_email_change(token, keep_session=keep)
    except services.AccountError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Your email address was changed and confirmed."), "success")
        if not in_sync:
            flash(str(STRIPE_DELAYED), "warning")
    return redirect(url_for("auth.account") if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(_me(), form.current_password.data, form.password.data)
        except services.AccountError as error:
            _apply_field_error(form, error)
        else:
            _start_login(_me(), remember=False)
            flash(_("Your password was changed. Other devices have been logged out."), "success")
            return redirect(url_for("auth.account"))
    return render_template("account/password.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/forgot-password", methods=["GET", "POST"])
@throttled("RESET_THROTTLE", "RESET_EMAIL_THROTTLE", REQUESTS_THROTTLED)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The lookup and the email come after the answer, so a known address takes no longer than another.
        run_after_response(services.request_password_reset, form.email.data)
        flash(_("If an account uses that address, we sent it a link to reset the password."), "success")
        return redirect(url_for("auth.login"))
    refund_request_limits()  # a form with mistakes is not a request
    return render_template("auth/forgot_password.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    if request.method == "GET" and tokens.load_reset_token(token) is None:
        flash(str(INVALID_RESET_LINK), "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except services.AccountError as error:
            flash(str(error.message), "error")
            return redirect(url_for("auth.forgot_password"))
        flash(_("Your password was reset. Log in with the new one."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form), 200 if request.method == "GET" else 422


@bp.get("/verify-email/<token>")
def verify_email(token: str):
    try:
        services.verify_email(token)
    except services.AccountError as error:
        flash(str(error.message), "error")
    else:
        flash(_("Thanks, your email address is confirmed."), "success")
    return redirect(url_for("auth.account") if current_user.is_authenticated else url_for("auth.login"))


@bp.post("/account/verify-email")
@login_required
def resend_verification():
    services.send_verification_email(_me())
    flash(_("We sent a new confirmation link."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    form = DeleteAccountForm()
    status = 200 if request.method == "GET" else 422
    if form.validate_on_submit():
        try:
            services.delete_account(_me(), form.password.data)
        except services.AccountError as error:
            _apply_field_error(form, error)
            status = error.status  # 409 while a billed practice is owned, 422 for a wrong password
        else:
            logout_user()
            _renew_session()
            flash(_("Your account was deleted."), "success")
            return redirect(url_for("auth.login"))
    billed = ownership.billed_practices_owned_by(_me())
    return render_template("account/delete.html", form=form, billed_practices=billed), status
