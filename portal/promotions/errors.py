"""Refusals about promotion codes and the retention offer."""

from __future__ import annotations

from portal.errors import UserError


class PromotionError(UserError):
    """A code that cannot be made or used; ``field`` is the form field it belongs under."""

    code = "promotion_error"
