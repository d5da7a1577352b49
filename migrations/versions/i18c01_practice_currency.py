"""practices.currency: the currency a practice's prices are in (usd or vnd), chosen at creation

Revision ID: i18c01
Revises: i17x03
Create Date: 2026-11-30 19:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i18c01"
down_revision = "i17x03"
branch_labels = None
depends_on = None


def upgrade():
    # add_column: SQLite keeps the table (a batch rebuild would drop AUTOINCREMENT). Every practice
    # made before this was priced by the default lookup keys, in US dollars.
    op.add_column(
        "practices", sa.Column("currency", sa.String(length=3), nullable=False, server_default="usd")
    )


def downgrade():
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("currency")
