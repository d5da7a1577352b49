"""Money as integer minor units with an ISO currency; only two-decimal currencies are sold. A typed
price is read by ``portal.forms.minor_units`` (in the page's language), as every amount."""

from __future__ import annotations

#: Currencies a product may be priced in (all with two decimal places).
CURRENCIES = ("usd", "eur", "gbp", "cad", "aud")
