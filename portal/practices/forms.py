"""Practice forms. Validation messages are what the person reads under each field."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from portal.formatting import format_money, minor_unit_exponent
from portal.forms import (
    CURRENCY_NAMES,
    PortalForm,
    RefundForm,
    UnclearNumber,
    amount_text,
    minor_units,
    refund_reason_field,
)
from portal.practices.closing import REASON_MAX, close_reason_problem
from portal.practices.countries import COUNTRIES, TAX_ID_TYPES, country_choices, tax_id_type_of
from portal.practices.models import MemberRole, Practice
from portal.practices.pausing import pause_reason_problem
from portal.practices.plans import practice_currencies
from portal.practices.refunds import REASONS as REFUND_REASONS


class CreatePracticeForm(PortalForm):
    name = StringField(
        _l("Practice name"),
        validators=[
            DataRequired(_l("Name the practice.")),
            Length(max=120, message=_l("Keep it under 120 characters.")),
        ],
    )
    currency = SelectField(_l("Currency"))

    def __init__(self, *args, suggested_currency: str | None = None, **kwargs) -> None:
        """``suggested_currency``: the select's choice until the person picks one."""
        super().__init__(*args, **kwargs)
        self.currency.choices = [
            SelectChoice(code, str(CURRENCY_NAMES.get(code, code.upper()))) for code in practice_currencies()
        ]
        if not self.currency.raw_data:  # not posted (the page, or an older form): the suggestion
            self.currency.data = suggested_currency or practice_currencies()[0]


class InviteForm(PortalForm):
    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter an email address.")), Email(_l("Enter a valid email address."))],
    )
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(MemberRole.ADMIN.value, _l("Admin (manages billing)")),
            SelectChoice(MemberRole.MEMBER.value, _l("Member (sees status)")),
        ],
        default=MemberRole.ADMIN.value,
    )


class CancelForm(PortalForm):
    reason = TextAreaField(
        _l("Why are you cancelling?"),
        validators=[DataRequired(_l("Please tell us why you are cancelling.")), Length(max=500)],
    )
    attempt = HiddenField()


TICK_TO_CLOSE = _l("Tick the box to confirm that the practice is closed and its subscription ends now.")


def _close_reason(form: PortalForm, field: TextAreaField) -> None:
    problem = close_reason_problem(field.data)
    if problem:
        raise ValidationError(problem)


class ClosePracticeForm(PortalForm):
    """A platform admin closes a practice: a reason its billing managers read (refused, as typed,
    when empty or over ``REASON_MAX``: never cut) and a ticked box."""

    reason = TextAreaField(
        _l("Why is it closed? (its billing managers read this)"), validators=[_close_reason]
    )
    confirm = BooleanField(validators=[DataRequired(TICK_TO_CLOSE)])
    max_reason = REASON_MAX


def _pause_reason(form: PortalForm, field: TextAreaField) -> None:
    problem = pause_reason_problem(field.data)
    if problem:
        raise ValidationError(problem)


class PauseCollectionForm(PortalForm):
    """A platform admin pauses a practice's payment collection: why (kept in its History, refused
    as typed when empty or over ``REASON_MAX``) and, optionally, the day Stripe resumes it."""

    reason = TextAreaField(_l("Why is payment collection paused?"), validators=[_pause_reason])
    resumes_on = DateField(
        _l("Resume collecting on (optional)"),
        validators=[Optional()],
        format="%Y-%m-%d",
        render_kw={"type": "date"},
    )
    max_reason = REASON_MAX


#: What an address needs once any part of it is given (Stripe prints it on invoices as typed).
ADDRESS_NEEDS = {
    "address_line1": _l("Enter the street address."),
    "address_city": _l("Enter the city."),
    "address_postal_code": _l("Enter the postal code."),
    "address_country": _l("Choose the country."),
}


def _line(label: str, longest: int) -> StringField:
    too_long = _l("Keep it under %(num)d characters.", num=longest)
    return StringField(label, validators=[Length(max=longest, message=too_long)])


class BillingDetailsForm(PortalForm):
    """The practice's billing details: every field optional, an address whole or not at all, and
    one tax ID to add (the ones it has are removed by ticking them)."""

    billing_email = EmailField(
        _l("Billing email"),
        validators=[Optional(), Email(_l("Enter a valid email address.")), Length(max=254)],
    )
    legal_name = _line(_l("Legal name"), 200)
    address_line1 = _line(_l("Street address"), 200)
    address_line2 = _line(_l("Address line 2"), 200)
    address_city = _line(_l("City"), 100)
    address_state = _line(_l("State or province"), 100)
    address_postal_code = _line(_l("Postal code"), 20)
    address_country = SelectField(
        _l("Country"),
        choices=[
            SelectChoice("", _l("Choose a country")),
            *(SelectChoice(c, n) for c, n in COUNTRIES.items()),
        ],
        default="",
    )
    tax_id_type = SelectField(
        _l("Tax ID type"),
        choices=[
            SelectChoice("", _l("Choose the type")),
            *(SelectChoice(t, _l(label)) for t, (label, _example) in TAX_ID_TYPES.items()),
        ],
        default="",
    )
    tax_id_value = _line(_l("Tax ID"), 64)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The countries named in the reader's language (and in its alphabetical order).
        self.address_country.choices = [
            SelectChoice("", _("Choose a country")),
            *(SelectChoice(c, n) for c, n in country_choices()),
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        parts = (*ADDRESS_NEEDS, "address_line2", "address_state")
        address_given = any((getattr(self, name).data or "").strip() for name in parts)
        for name, message in ADDRESS_NEEDS.items():
            field = getattr(self, name)
            if address_given and not (field.data or "").strip() and not field.errors:
                field.errors.append(str(message))
                valid = False
        if (self.tax_id_value.data or "").strip() and not self.tax_id_type.data:
            self.tax_id_type.errors.append(_("Choose the tax ID's type."))
            valid = False
        return valid


def billing_details_form(practice: Practice) -> BillingDetailsForm:
    """The form as saved, its tax ID type the one the address's country uses (Germany: EU VAT)."""
    form = BillingDetailsForm(formdata=None, obj=practice)
    form.tax_id_type.data = tax_id_type_of(practice.address_country)
    return form


class RefundInvoiceForm(RefundForm):
    """A platform admin refunds some or all of a paid invoice (a credit note at Stripe): the amount in
    the currency's main unit (its own digits: none for VND), Stripe's reason and the admin's own
    words. One per invoice on the page: ``prefix``."""

    amount = StringField(_l("Amount to refund"))
    reason = SelectField(_l("Reason"), choices=[SelectChoice(k, v) for k, v in REFUND_REASONS.items()])
    note = refund_reason_field(_l("Why is it refunded? (History keeps it)"))

    def validate_amount(self, field: StringField) -> None:
        try:
            minor = minor_units(field.data or "", self.currency)
        except UnclearNumber as unclear:
            raise ValidationError(unclear.message) from None
        if minor is None or not 1 <= minor <= self.most:
            raise ValidationError(
                _(
                    "Enter an amount between %(least)s and %(most)s, like %(example)s.",
                    least=format_money(1, self.currency),
                    most=format_money(self.most, self.currency),
                    example=self.example,
                )
            )

    @property
    def minor_amount(self) -> int:
        try:
            return minor_units(self.amount.data or "", self.currency) or 0
        except UnclearNumber:
            return 0

    @property
    def example(self) -> str:
        """An amount as this form takes it in the page's language: ``25.00`` (USD; ``25,00`` in
        Vietnamese), ``25`` (VND)."""
        return amount_text(25 * 10 ** minor_unit_exponent(self.currency), self.currency)
