"""Products and their stock.

Stock is a single counter of units available now. It only ever changes through
conditional updates, so concurrent buyers and duplicate Stripe events cannot
oversell or double count: ``reserve_stock`` is ``stock = stock - q WHERE stock >= q``
when an order is created (before any charge; a refusal is "out of stock").
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.extensions import db
from portal.shop.errors import ProductNotFound
from portal.shop.models import Product


def list_products(*, include_inactive: bool = False) -> list[Product]:
    query = sa.select(Product).order_by(Product.name, Product.id)
    if not include_inactive:
        query = query.where(Product.active.is_(True))
    return list(db.session.scalars(query))


def get_product(product_id: int, *, include_inactive: bool = False) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or not (product.active or include_inactive):
        raise ProductNotFound()
    return product


PRODUCT_FIELDS = ("name", "description", "price", "currency", "stock", "active")


def create_product(**fields: Any) -> Product:
    product = Product(**{k: v for k, v in fields.items() if k in PRODUCT_FIELDS})
    product.currency = product.currency.lower()
    db.session.add(product)
    db.session.commit()
    return product


def update_product(product: Product, **fields: Any) -> Product:
    """Admin edit. ``stock`` is set as the units available now (pending reservations excluded)."""
    for name, value in fields.items():
        if name in PRODUCT_FIELDS:
            setattr(product, name, value.lower() if name == "currency" else value)
    db.session.commit()
    return product


# --- stock ----------------------------------------------------------------------------------------------


def reserve_stock(product_id: int, quantity: int) -> bool:
    """Take ``quantity`` units if that many are available; atomic, never below zero. No commit."""
    result = db.session.execute(
        sa.update(Product)
        .where(Product.id == product_id, Product.stock >= quantity, Product.active.is_(True))
        .values(stock=Product.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def return_stock(product_id: int, quantity: int) -> None:
    db.session.execute(
        sa.update(Product)
        .where(Product.id == product_id)
        .values(stock=Product.stock + quantity)
        .execution_options(synchronize_session=False)
    )


def expire_loaded(*objects: object) -> None:
    for obj in objects:
        if obj is not None and obj in db.session:
            db.session.expire(obj)
