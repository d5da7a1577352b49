"""promotion codes (a mirror of Stripe's), the retention coupon setting and the offers made, the
subscription's discount on practices and each invoice's discount (issue 17)

Revision ID: i17b01
Revises: i17d01
Create Date: 2026-11-30 16:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i17b01"
down_revision = "i17d01"
branch_labels = None
depends_on = None


def _terms() -> list[sa.Column]:
    return [
        sa.Column("percent_off", sa.Float(), nullable=True),
        sa.Column("amount_off", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("duration", sa.String(length=16), nullable=False),
        sa.Column("duration_in_months", sa.Integer(), nullable=True),
    ]


def upgrade():
    op.create_table(
        "promotion_codes",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        *_terms(),
        sa.Column("stripe_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=500), nullable=False),
        sa.Column("coupon_id", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("times_redeemed", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("stripe_synced_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name="fk_promotion_codes_created_by_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_codes"),
        sa.UniqueConstraint("stripe_id", name="uq_promotion_codes_stripe_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "retention_coupons",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        *_terms(),
        sa.Column("coupon_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name="fk_retention_coupons_created_by_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_retention_coupons"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "retention_offers",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("coupon_id", sa.String(length=64), nullable=False),
        sa.Column("terms", sa.String(length=120), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name="fk_retention_offers_practice_id_practices",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name="fk_retention_offers_decided_by_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_retention_offers"),
        sa.UniqueConstraint("subscription_id", name="uq_retention_offers_subscription_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_retention_offers_practice_id", "retention_offers", ["practice_id"])
    # add_column: SQLite keeps the tables (a batch rebuild would drop AUTOINCREMENT).
    op.add_column("practices", sa.Column("discount_ids", sa.String(length=255), nullable=True))
    op.add_column("practices", sa.Column("discount_summary", sa.String(length=120), nullable=True))
    op.add_column("practices", sa.Column("discount_duration", sa.String(length=16), nullable=True))
    op.add_column("practices", sa.Column("discount_end", sa.DateTime(), nullable=True))
    op.add_column(
        "practice_invoices",
        sa.Column("discount_amount", sa.BigInteger(), server_default="0", nullable=False),
    )


def downgrade():
    with op.batch_alter_table("practice_invoices") as batch:
        batch.drop_column("discount_amount")
    with op.batch_alter_table("practices") as batch:
        for column in ("discount_end", "discount_duration", "discount_summary", "discount_ids"):
            batch.drop_column(column)
    op.drop_index("ix_retention_offers_practice_id", table_name="retention_offers")
    op.drop_table("retention_offers")
    op.drop_table("retention_coupons")
    op.drop_table("promotion_codes")
