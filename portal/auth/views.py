"""Account pages. Thin: parse the form, call a service, render or redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

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
from portal.auth.models import User
from portal.extensions import limiter, login_manager
from portal.redirects import local_redirect_target
from portal.wallet.links import account_wallet

bp = Blueprint("auth", __name__)

INVALID_RESET_LINK = services.INVALID_RESET_LINK
STRIPE_DELAYED = "Saved. Stripe could not be reached just now; your billing details will catch up shortly."


@login_manager.user_loader
def load_user(session_key: str) -> User | None:
    return services.load_session_user(session_key)


def _login_throttle() -> str:
    return current_app.config["LOGIN_THROTTLE"]


def _login_failed(response) -> bool:
    # Only failed attempts count towards the throttle; a successful login redirects.
    return response.status_code != 302


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
        flash(error.message, "error")


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(form.name.data, form.email.data, form.password.data)
        except services.AccountError as error:
            _apply_field_error(form, error)
        else:
            _start_login(user, remember=False)
            flash("Welcome! We sent a link to confirm your email address.", "success")
            if user.stripe_customer_id is None:
                flash(STRIPE_DELAYED, "warning")
            return redirect(url_for("auth.account"))
    return render_template("auth/register.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    _login_throttle,
    methods=["POST"],
    deduct_when=_login_failed,
    error_message="Too many failed login attempts. Wait a minute, then try again.",
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            _start_login(user, remember=form.remember.data)
            return redirect(_next_target() or url_for("auth.account"))
        # One message for an unknown email and a wrong password.
        form.password.errors.append("That email and password do not match an account.")
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
    flash("You have been logged out.", "success")
    return redirect(url_for("auth.login"))


#: Throttled forms are shown again, with what was typed (never a password), instead of a bare error page.
THROTTLED_FORMS = {
    "auth.login": (LoginForm, "auth/login.html"),
    "auth.forgot_password": (ForgotPasswordForm, "auth/forgot_password.html"),
}


@bp.errorhandler(429)
def too_many_requests(error):
    message = getattr(error, "description", None) or "Too many requests. Wait a minute and try again."
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
        try:
            in_sync = services.update_profile(_me(), form.name.data, form.email.data)
        except services.AccountError as error:
            _apply_field_error(form, error)
        else:
            flash(
                "Your profile was saved." if in_sync else STRIPE_DELAYED, "success" if in_sync else "warning"
            )
            return redirect(url_for("auth.account"))
    return render_template("account/profile.html", form=form), 200 if request.method == "GET" else 422


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
            flash("Your password was changed. Other devices have been logged out.", "success")
            return redirect(url_for("auth.account"))
    return render_template("account/password.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(
    _login_throttle, methods=["POST"], error_message="Too many requests. Wait a minute and try again."
)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        flash("If an account uses that address, we sent it a link to reset the password.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    if request.method == "GET" and tokens.load_reset_token(token) is None:
        flash(INVALID_RESET_LINK, "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except services.AccountError as error:
            flash(error.message, "error")
            return redirect(url_for("auth.forgot_password"))
        flash("Your password was reset. Log in with the new one.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form), 200 if request.method == "GET" else 422


@bp.get("/verify-email/<token>")
def verify_email(token: str):
    try:
        services.verify_email(token)
    except services.AccountError as error:
        flash(error.message, "error")
    else:
        flash("Thanks, your email address is confirmed.", "success")
    return redirect(url_for("auth.account") if current_user.is_authenticated else url_for("auth.login"))


@bp.post("/account/verify-email")
@login_required
def resend_verification():
    services.send_verification_email(_me())
    flash("We sent a new confirmation link.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            services.delete_account(_me(), form.password.data)
        except services.AccountError as error:
            _apply_field_error(form, error)
        else:
            logout_user()
            _renew_session()
            flash("Your account was deleted.", "success")
            return redirect(url_for("auth.login"))
    return render_template("account/delete.html", form=form), 200 if request.method == "GET" else 422
