"""The practice's plans: the offers the page shows, the Stripe prices ``flask billing bootstrap``
creates (by lookup key), and the plan a Stripe price names.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from portal.forms import price_currencies
from portal.gateway import plans as stripe_plans
from portal.gateway.shapes import as_dict, object_id
from portal.practices.errors import PracticeError
from portal.practices.models import Plan, Practice

ONBOARDING_LOOKUP_KEY = "onboarding_fee"


@dataclass(frozen=True)
class PlanOffer:
    plan: Plan
    amount: int
    currency: str


def default_currency() -> str:
    return current_app.config["BILLING_CURRENCY"].lower()


def practice_currencies() -> list[str]:
    """The currencies a practice may be priced in (``portal.forms.price_currencies``): the default
    one first (``usd``), then ``vnd``, whose prices' settings are ``BILLING_VND_*`` and lookup keys
    ``onboarding_fee_vnd``, ``plan_monthly_vnd``, ..."""
    return price_currencies()


#: The currency suggested to a person creating a practice, by their language or their country.
CURRENCY_OF_LOCALE = {"vi": "vnd"}
CURRENCY_OF_COUNTRY = {"VN": "vnd"}


def suggested_currency(locale: str | None, country: str | None = None) -> str:
    """VND for a person reading in Vietnamese or in Vietnam (``country``: the region of their
    browser's language, ``vi-VN``, ``en-VN``), else the default currency."""
    code = CURRENCY_OF_COUNTRY.get((country or "").upper()) or CURRENCY_OF_LOCALE.get(locale or "")
    return code if code in practice_currencies() else default_currency()


def currency_of(practice: Practice) -> str:
    return (practice.currency or default_currency()).lower()


def _amount(setting: str, currency: str) -> int:
    """A price's amount in ``currency``'s minor units: ``BILLING_<setting>`` for the default
    currency, ``BILLING_<CUR>_<setting>`` for another."""
    cfg = current_app.config
    if currency == default_currency():
        return cfg[f"BILLING_{setting}"]
    return cfg[f"BILLING_{currency.upper()}_{setting}"]


def lookup_key(key: str, currency: str) -> str:
    """The lookup key of a price in ``currency``: the default currency's keep their names
    (``onboarding_fee``, ``plan_monthly``), another's end with it (``onboarding_fee_vnd``)."""
    return key if currency == default_currency() else f"{key}_{currency}"


def plan_price_id(plan: Plan, currency: str) -> str:
    return price_id(lookup_key(plan.lookup_key, currency))


def onboarding_price_id(currency: str) -> str:
    return price_id(lookup_key(ONBOARDING_LOOKUP_KEY, currency))


def plan_offers(currency: str | None = None) -> list[PlanOffer]:
    currency = (currency or default_currency()).lower()
    return [
        PlanOffer(Plan.MONTHLY, _amount("MONTHLY_PRICE", currency), currency),
        PlanOffer(Plan.SEMIANNUAL, _amount("SEMIANNUAL_PRICE", currency), currency),
    ]


def plan_offer(plan: Plan | None, offers: list[PlanOffer]) -> PlanOffer | None:
    return next((offer for offer in offers if offer.plan == plan), None)


def trial_days(plan: Plan, practice: Practice) -> int:
    """The free trial days ``plan`` gives ``practice``'s subscription (``PLAN_TRIAL_DAYS_<PLAN>``):
    only its first one. Stripe would give a trial to every subscription asked with one; the portal
    gives none to a practice that already had a subscription (``stripe_subscription_id`` stays set
    after one ends), nor after its onboarding fee was paid."""
    if practice.stripe_subscription_id is not None or practice.onboarding_paid_at is not None:
        return 0
    return max(0, int(current_app.config.get(f"PLAN_TRIAL_DAYS_{plan.name}", 0) or 0))


def onboarding_fee(currency: str | None = None) -> tuple[int, str]:
    currency = (currency or default_currency()).lower()
    return _amount("ONBOARDING_FEE", currency), currency


def plan_definitions() -> list[dict]:
    """What ``flask billing bootstrap`` creates: for each currency, the onboarding fee and the two
    plans (amounts from config), one product each whatever the currency."""
    return [definition for currency in practice_currencies() for definition in _definitions(currency)]


def _definitions(currency: str) -> list[dict]:
    return [
        {
            "lookup_key": lookup_key(ONBOARDING_LOOKUP_KEY, currency),
            "product": "Practice onboarding",
            "nickname": "Onboarding fee",
            "unit_amount": _amount("ONBOARDING_FEE", currency),
            "currency": currency,
            "recurring": None,
        },
        {
            "lookup_key": lookup_key(Plan.MONTHLY.lookup_key, currency),
            "product": "Practice subscription",
            "nickname": "Monthly",
            "unit_amount": _amount("MONTHLY_PRICE", currency),
            "currency": currency,
            "recurring": {"interval": "month", "interval_count": 1},
        },
        {
            "lookup_key": lookup_key(Plan.SEMIANNUAL.lookup_key, currency),
            "product": "Practice subscription",
            "nickname": "Every 6 months",
            "unit_amount": _amount("SEMIANNUAL_PRICE", currency),
            "currency": currency,
            "recurring": {"interval": "month", "interval_count": 6},
        },
    ]


def bootstrap_plans() -> list[tuple[str, str, bool]]:
    """Create the products and prices that are missing: [(lookup_key, price id, created)]."""
    definitions = plan_definitions()
    existing = stripe_plans.find_prices([d["lookup_key"] for d in definitions])
    products: dict[str, str] = {}
    for price in existing.values():
        products.setdefault(_product_name(price), object_id(as_dict(price).get("product")))
    result = []
    for definition in definitions:
        key = definition["lookup_key"]
        price = existing.get(key)
        if (
            price is not None
            and price.unit_amount == definition["unit_amount"]
            and price.currency == (definition["currency"])
        ):
            result.append((key, price.id, False))
            continue
        product_id = products.get(definition["product"])
        if product_id is None:
            product = stripe_plans.create_product(
                definition["product"],
                key=definition["product"].lower().replace(" ", "-"),
                metadata={"portal": "practice_billing"},
            )
            product_id = products[definition["product"]] = product.id
        created = stripe_plans.create_price(
            product_id=product_id,
            lookup_key=key,
            unit_amount=definition["unit_amount"],
            currency=definition["currency"],
            recurring=definition["recurring"],
            nickname=definition["nickname"],
        )
        result.append((key, created.id, True))
    _price_cache().clear()
    return result


def _product_name(price: object) -> str:
    product = as_dict(price).get("product")
    return product.get("name", "") if isinstance(product, dict) else ""


def _price_cache() -> dict[str, str]:
    return current_app.extensions.setdefault("practice_price_ids", {})


def price_id(lookup_key: str) -> str:
    """The Stripe price id for a lookup key (found once per process, then cached)."""
    cache = _price_cache()
    if lookup_key not in cache:
        keys = [d["lookup_key"] for d in plan_definitions()]
        cache.update({key: price.id for key, price in stripe_plans.find_prices(keys).items()})
    if lookup_key not in cache:
        raise PracticeError(
            _("Plans are not set up yet. An administrator must run `flask billing bootstrap`.")
        )
    return cache[lookup_key]


def plan_from_price(price: dict) -> Plan | None:
    key = price.get("lookup_key")
    for plan in Plan:
        if key is not None and key in {lookup_key(plan.lookup_key, c) for c in practice_currencies()}:
            return plan
    recurring = price.get("recurring") or {}
    if recurring.get("interval") == "month":
        return {1: Plan.MONTHLY, 6: Plan.SEMIANNUAL}.get(int(recurring.get("interval_count") or 1))
    return None
