"""practice_invoices.pending_refund, orders.pending_refund: a refund whose answer Stripe lost

Revision ID: i17x03
Revises: i19q01
Create Date: 2026-11-30 17:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i17x03"
down_revision = "i19q01"
branch_labels = None
depends_on = None


def upgrade():
    # add_column: SQLite keeps the tables (a batch rebuild would drop AUTOINCREMENT).
    op.add_column("practice_invoices", sa.Column("pending_refund", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("orders", sa.Column("pending_refund", sa.JSON(none_as_null=True), nullable=True))


def downgrade():
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("pending_refund")
    with op.batch_alter_table("practice_invoices") as batch:
        batch.drop_column("pending_refund")
