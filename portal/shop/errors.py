"""The shop's refusals: what a buyer or an admin is told when an action cannot be done."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.errors import UserError
from portal.shop.models import Order, Product

#: Most units of one product in a single order.
MAX_QUANTITY = 20


class ShopError(UserError):
    """A refusal the buyer can act on; ``order`` is the order it concerns, if one was made."""

    code = "shop_error"

    def __init__(self, message: str, order: Order | None = None) -> None:
        super().__init__(message)
        self.order = order


class ProductNotFound(ShopError):
    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__(_("That product does not exist or is no longer for sale."))


class OrderNotFound(ShopError):
    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__(_("That order was not found."))


class AdminsOnly(ShopError):
    status = 403
    code = "forbidden"

    def __init__(self) -> None:
        super().__init__(_("Only platform admins can manage products."))


class InvalidQuantity(ShopError):
    code = "invalid_quantity"

    def __init__(self) -> None:
        super().__init__(_("Choose a quantity between 1 and %(most)s.", most=MAX_QUANTITY))


class CurrencyMismatch(ShopError):
    code = "invalid_currency"

    def __init__(self, currency: str) -> None:
        super().__init__(_("This product is sold in %(currency)s.", currency=currency.upper()))


class OutOfStock(ShopError):
    status = 409
    code = "out_of_stock"

    def __init__(self, product: Product, quantity: int) -> None:
        if product.stock <= 0:
            message = _(
                "Sorry, %(product)s is out of stock. You have not been charged.", product=product.name
            )
        else:
            message = _(
                "Sorry, only %(left)s of %(product)s left, fewer than the %(quantity)s you asked for. "
                "You have not been charged.",
                left=product.stock,
                product=product.name,
                quantity=quantity,
            )
        super().__init__(message)


class PaymentFailed(ShopError):
    """The card was declined (or the payment failed); the order is failed and its stock released."""

    status = 402
    code = "card_declined"


class PaymentNotSent(ShopError):
    """Stripe never received the charge (refused, connect timeout, breaker open): the order
    failed and its stock is back."""

    status = 503
    code = "stripe_unavailable"


class PaymentOutcomeUnknown(ShopError):
    """The charge was sent and no answer came: the stock stays reserved until the intent is found."""

    status = 503
    code = "stripe_unavailable"

    def __init__(self, order: Order) -> None:
        super().__init__(
            _(
                "Stripe did not answer in time, so we cannot tell yet whether order #%(order)s was "
                "charged. Its items stay reserved for you and the order page shows the outcome once "
                "Stripe answers: please check it before buying again.",
                order=order.id,
            ),
            order,
        )


class RefundRefused(ShopError):
    """A refund an order cannot take: not paid, nothing left, more units than remain."""

    status = 409
    code = "refund_refused"


class RefundUnconfirmed(ShopError):
    """The refund's request reached Stripe and no answer came: it may have been made."""

    status = 202
    code = "outcome_unknown"

    def __init__(self) -> None:
        super().__init__(
            _(
                "Stripe may have made the refund; we are checking. Nothing will be refunded twice: "
                "this order takes no other refund until Stripe answers."
            )
        )
