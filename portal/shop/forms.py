"""Shop forms: buying (quantity and a saved card) and the admin's product form."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from portal.forms import (
    PortalForm,
    RefundForm,
    UnclearNumber,
    amount_text,
    format_typed,
    minor_units,
    refund_reason_field,
)
from portal.shop.money import CURRENCIES
from portal.shop.purchases import MAX_QUANTITY
from portal.words import card_brand


class BuyForm(PortalForm):
    quantity = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[
            InputRequired(_l("Enter a quantity.")),
            NumberRange(1, MAX_QUANTITY, _l("Choose a quantity between 1 and %(most)s.", most=MAX_QUANTITY)),
        ],
    )
    payment_method = RadioField(
        _l("Pay with"), validators=[InputRequired(_l("Choose a card."))], validate_choice=True
    )

    def set_cards(self, cards: list, preselect: bool = True) -> None:
        """Offer the user's saved cards; the default (listed first) is preselected."""
        self.payment_method.choices = [
            SelectChoice(
                card.stripe_id,
                _("%(brand)s ending in %(last4)s", brand=card_brand(card.brand), last4=card.last4),
            )
            for card in cards
        ]
        if preselect and cards and not self.payment_method.data:
            self.payment_method.data = cards[0].stripe_id


class ProductForm(PortalForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Enter a name.")), Length(max=120, message=_l("Keep it under 120."))],
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    price = StringField(_l("Price"))
    currency = SelectField(
        _l("Currency"), choices=[SelectChoice(c, c.upper()) for c in CURRENCIES], default="usd"
    )
    stock = IntegerField(
        _l("Units in stock"),
        validators=[
            InputRequired(_l("Enter the stock.")),
            NumberRange(0, 1_000_000, _l("Between 0 and 1,000,000.")),
        ],
    )
    active = BooleanField(_l("For sale"), default=True)

    #: The price's bounds in minor units (every shop currency has two decimals).
    LEAST, MOST = 50, 99_999_999

    @property
    def example(self) -> str:
        """A price as this form takes it in the page's language: ``12.50``, ``12,50``."""
        return amount_text(1250, "usd")

    def validate_price(self, field: StringField) -> None:
        """Read in the page's language, as every amount (``portal.forms.read_number``)."""
        text = (field.data or "").strip()
        if not text:
            raise ValidationError(_("Enter a price, like %(example)s.", example=self.example))
        try:
            minor = minor_units(text, "usd")
        except UnclearNumber as unclear:
            raise ValidationError(unclear.message) from None
        if minor is None or not self.LEAST <= minor <= self.MOST:
            raise ValidationError(
                _(
                    "Between %(least)s and %(most)s.",
                    least=amount_text(self.LEAST, "usd"),
                    most=format_typed(Decimal(self.MOST).scaleb(-2), 2, group=True),
                )
            )

    @property
    def price_minor(self) -> int:
        """The price in minor units (after ``validate``)."""
        return minor_units(self.price.data, "usd")

    def show_price(self, minor: int) -> None:
        """A saved price drawn as this page writes amounts."""
        self.price.data = amount_text(minor, "usd")


class RefundOrderForm(RefundForm):
    """A platform admin refunds units of an order (at most ``most``), with a reason."""

    units = StringField(_l("Units to refund"))
    reason = refund_reason_field(_l("Why is it refunded?"))

    def validate_units(self, field: StringField) -> None:
        text = (field.data or "").strip()
        whole = text.isascii() and text.isdigit() and len(text) <= 9
        if not whole or not 1 <= int(text) <= self.most:
            raise ValidationError(_("Enter a whole number of units between 1 and %(most)s.", most=self.most))

    @property
    def unit_count(self) -> int:
        return int(self.units.data.strip())
