"""Shop forms: buying (quantity and a saved card) and the admin's product form."""

from __future__ import annotations

from decimal import Decimal

from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from portal.forms import PortalForm, RefundForm, refund_reason_field
from portal.shop.money import CURRENCIES
from portal.shop.purchases import MAX_QUANTITY


class BuyForm(PortalForm):
    quantity = IntegerField(
        "Quantity",
        default=1,
        validators=[
            InputRequired("Enter a quantity."),
            NumberRange(1, MAX_QUANTITY, f"Choose a quantity between 1 and {MAX_QUANTITY}."),
        ],
    )
    payment_method = RadioField(
        "Pay with", validators=[InputRequired("Choose a card.")], validate_choice=True
    )

    def set_cards(self, cards: list, preselect: bool = True) -> None:
        """Offer the user's saved cards; the default (listed first) is preselected."""
        self.payment_method.choices = [
            SelectChoice(card.stripe_id, f"{card.brand.title()} ending in {card.last4}") for card in cards
        ]
        if preselect and cards and not self.payment_method.data:
            self.payment_method.data = cards[0].stripe_id


class ProductForm(PortalForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter a name."), Length(max=120, message="Keep it under 120.")]
    )
    description = TextAreaField("Description", validators=[Length(max=5000)])
    price = DecimalField(
        "Price",
        places=2,
        validators=[
            InputRequired("Enter a price, like 12.50."),
            NumberRange(
                min=Decimal("0.50"), max=Decimal("999999.99"), message="Between 0.50 and 999,999.99."
            ),
        ],
    )
    currency = SelectField(
        "Currency", choices=[SelectChoice(c, c.upper()) for c in CURRENCIES], default="usd"
    )
    stock = IntegerField(
        "Units in stock",
        validators=[InputRequired("Enter the stock."), NumberRange(0, 1_000_000, "Between 0 and 1,000,000.")],
    )
    active = BooleanField("For sale", default=True)


class RefundOrderForm(RefundForm):
    """A platform admin refunds units of an order (at most ``most``), with a reason."""

    units = StringField("Units to refund")
    reason = refund_reason_field("Why is it refunded?")

    def validate_units(self, field: StringField) -> None:
        text = (field.data or "").strip()
        whole = text.isascii() and text.isdigit() and len(text) <= 9
        if not whole or not 1 <= int(text) <= self.most:
            raise ValidationError(f"Enter a whole number of units between 1 and {self.most}.")

    @property
    def unit_count(self) -> int:
        return int(self.units.data.strip())
