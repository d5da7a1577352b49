"""Account forms. Validation messages are what the person reads under each field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, Email, EqualTo, Length

from portal.forms import PortalForm
from portal.i18n import available_timezones
from portal.users.preferences import PreferenceError, checked_timezone


def strip(value: str | None) -> str | None:
    """Pasted addresses and names often carry stray spaces; they are never meant."""
    return value.strip() if isinstance(value, str) else value


NAME = [DataRequired("Enter your name."), Length(max=120, message="Keep your name under 120 characters.")]
EMAIL = [
    DataRequired("Enter your email address."),
    Email("Enter a valid email address, like name@example.com."),
    Length(max=254, message="That email address is too long."),
]
NEW_PASSWORD = [
    DataRequired("Choose a password."),
    Length(min=10, max=128, message="Use between 10 and 128 characters."),
]


class RegisterForm(PortalForm):
    name = StringField("Full name", validators=NAME, filters=[strip])
    email = EmailField("Email", validators=EMAIL, filters=[strip])
    password = PasswordField("Password", validators=NEW_PASSWORD)
    confirm = PasswordField(
        "Confirm password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The passwords do not match.")],
    )


class LoginForm(PortalForm):
    email = EmailField("Email", validators=EMAIL, filters=[strip])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Remember me")


class ProfileForm(PortalForm):
    name = StringField("Full name", validators=NAME, filters=[strip])
    email = EmailField("Email", validators=EMAIL, filters=[strip])
    #: Checked only when the email changes (``services.update_profile``): a name needs none.
    current_password = PasswordField("Current password")
    #: Any IANA zone; the list is the choice, a posted name outside it is refused in words.
    timezone = SelectField(_l("Time zone"), coerce=lambda value: value or "", validate_choice=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = [("", _l("UTC (a practice's pages use the practice's own)"))] + [
            (zone, zone.replace("_", " ")) for zone in available_timezones()
        ]

    def validate_timezone(self, field) -> None:
        try:
            checked_timezone(field.data)
        except PreferenceError as error:
            raise ValidationError(error.message) from None


class ResetPasswordForm(PortalForm):
    """A new password, typed twice."""

    password = PasswordField("New password", validators=NEW_PASSWORD)
    confirm = PasswordField(
        "Confirm new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("password", "The passwords do not match."),
        ],
    )


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )


class ForgotPasswordForm(PortalForm):
    email = EmailField("Email", validators=EMAIL, filters=[strip])


class DeleteAccountForm(PortalForm):
    password = PasswordField("Password", validators=[DataRequired("Enter your password to confirm.")])
