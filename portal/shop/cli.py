"""``flask shop ...`` commands, and the shop's demo products for ``flask seed-demo``."""

from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from portal.extensions import db
from portal.shop import catalog
from portal.shop import orders as shop_orders
from portal.shop.models import Product

#: (name, description, price in cents, stock): created once, looked up by name.
DEMO_PRODUCTS = (
    ("Appointment reminder cards (100)", "Printed reminder cards with your practice's logo.", 2900, 40),
    ("Digital thermometer", "Fast, accurate, with a protective case.", 1999, 25),
    ("First-aid kit", "A compact kit for the front desk.", 4500, 10),
    ("Waiting-room magazine bundle", "A year of assorted magazines.", 8900, 3),
)


def seed_products() -> None:
    """Add the demo products that are missing; existing ones (and their stock) are left alone."""
    for name, description, price, stock in DEMO_PRODUCTS:
        if db.session.scalar(sa.select(Product.id).where(Product.name == name)) is None:
            catalog.create_product(
                name=name, description=description, price=price, currency="usd", stock=stock
            )
            click.echo(f"created product {name}")


shop_cli = AppGroup("shop", help="The shop's orders.")


@shop_cli.command("release-stale")
@click.option(
    "--minutes", default=30, show_default=True, type=click.IntRange(min=1), help="Pending longer than this."
)
def release_stale_command(minutes: int) -> None:
    """Cancel orders whose payment was never completed, and put their stock back."""
    summary = shop_orders.release_stale_orders(dt.timedelta(minutes=minutes))
    click.echo(f"released {summary.released}, paid meanwhile {summary.paid}, skipped {summary.skipped}")
