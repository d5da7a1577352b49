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


NAME = [
    DataRequired(_l("Enter your name.")),
    Length(max=120, message=_l("Keep your name under 120 characters.")),
]
EMAIL = [
    DataRequired(_l("Enter your email address.")),
    Email(_l("Enter a valid email address, like name@example.com.")),
    Length(max=254, message=_l("That email address is too long.")),
]
NEW_PASSWORD = [
    DataRequired(_l("Choose a password.")),
    Length(min=10, max=128, message=_l("Use between 10 and 128 characters.")),
]


class RegisterForm(PortalForm):
    name = StringField(_l("Full name"), validators=NAME, filters=[strip])
    email = EmailField(_l("Email"), validators=EMAIL, filters=[strip])
    password = PasswordField(_l("Password"), validators=NEW_PASSWORD)
    confirm = PasswordField(
        _l("Confirm password"),
        validators=[
            DataRequired(_l("Repeat the password.")),
            EqualTo("password", _l("The passwords do not match.")),
        ],
    )


class LoginForm(PortalForm):
    email = EmailField(_l("Email"), validators=EMAIL, filters=[strip])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])
    remember = BooleanField(_l("Remember me"))


class ProfileForm(PortalForm):
    name = StringField(_l("Full name"), validators=NAME, filters=[strip])
    email = EmailField(_l("Email"), validators=EMAIL, filters=[strip])
    #: Checked only when the email changes (``services.update_profile``): a name needs none.
    current_password = PasswordField(_l("Current password"))
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

    password = PasswordField(_l("New password"), validators=NEW_PASSWORD)
    confirm = PasswordField(
        _l("Confirm new password"),
        validators=[
            DataRequired(_l("Repeat the new password.")),
            EqualTo("password", _l("The passwords do not match.")),
        ],
    )


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password."))]
    )


class ForgotPasswordForm(PortalForm):
    email = EmailField(_l("Email"), validators=EMAIL, filters=[strip])


class DeleteAccountForm(PortalForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password to confirm."))])
