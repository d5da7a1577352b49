"""order_refunds and practice_invoice_refunds: one row per Stripe refund of a shop order or an invoice

Revision ID: i17d01
Revises: i17a01
Create Date: 2026-11-30 15:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i17d01"
down_revision = "i17a01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "order_refunds",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.Column("refunded_by_id", sa.Integer(), nullable=True),
        sa.Column("attempt_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("units IS NULL OR units > 0", name="refund_units_positive"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["refunded_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stripe_refund_id"),
        sa.UniqueConstraint("attempt_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_order_refunds_order_id", "order_refunds", ["order_id"])
    op.create_table(
        "practice_invoice_refunds",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=64), nullable=False),
        sa.Column("credit_note_id", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.Column("refunded_by_id", sa.Integer(), nullable=True),
        sa.Column("attempt_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["practice_id"], ["practices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["refunded_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stripe_refund_id"),
        sa.UniqueConstraint("attempt_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_practice_invoice_refunds_practice_id", "practice_invoice_refunds", ["practice_id"])
    op.create_index("ix_practice_invoice_refunds_invoice_id", "practice_invoice_refunds", ["invoice_id"])


def downgrade():
    op.drop_index("ix_practice_invoice_refunds_invoice_id", table_name="practice_invoice_refunds")
    op.drop_index("ix_practice_invoice_refunds_practice_id", table_name="practice_invoice_refunds")
    op.drop_table("practice_invoice_refunds")
    op.drop_index("ix_order_refunds_order_id", table_name="order_refunds")
    op.drop_table("order_refunds")
