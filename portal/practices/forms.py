"""Practice forms. Validation messages are what the person reads under each field."""

from __future__ import annotations

from wtforms import EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

from portal.forms import PortalForm
from portal.practices.models import MemberRole


class CreatePracticeForm(PortalForm):
    name = StringField(
        "Practice name",
        validators=[
            DataRequired("Name the practice."),
            Length(max=120, message="Keep it under 120 characters."),
        ],
    )


class InviteForm(PortalForm):
    email = EmailField(
        "Email address",
        validators=[DataRequired("Enter an email address."), Email("Enter a valid email address.")],
    )
    role = SelectField(
        "Role",
        choices=[
            SelectChoice(MemberRole.ADMIN.value, "Admin (manages billing)"),
            SelectChoice(MemberRole.MEMBER.value, "Member (sees status)"),
        ],
        default=MemberRole.ADMIN.value,
    )


class CancelForm(PortalForm):
    reason = TextAreaField(
        "Why are you cancelling?",
        validators=[DataRequired("Please tell us why you are cancelling."), Length(max=500)],
    )
    attempt = HiddenField()
