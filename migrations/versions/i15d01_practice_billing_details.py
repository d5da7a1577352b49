"""practices: billing details (billing email, legal name, address) and their tax IDs
(practice_tax_ids), synced to the practice's Stripe customer

Revision ID: i15d01
Revises: i20b01
Create Date: 2026-11-30 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i15d01"
down_revision = "i20b01"
branch_labels = None
depends_on = None

ADDRESS_COLUMNS = (
    ("billing_email", 254),
    ("legal_name", 200),
    ("address_line1", 200),
    ("address_line2", 200),
    ("address_city", 100),
    ("address_state", 100),
    ("address_postal_code", 20),
    ("address_country", 2),
)


def upgrade():
    # add_column: SQLite keeps the table (a batch rebuild would drop AUTOINCREMENT).
    for name, length in ADDRESS_COLUMNS:
        op.add_column("practices", sa.Column(name, sa.String(length=length), nullable=True))
    op.add_column(
        "practices", sa.Column("billing_details_at", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_table(
        "practice_tax_ids",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("stripe_id", sa.String(length=64), nullable=True),
        sa.Column("verification_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["practice_id"], ["practices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_practice_tax_ids_practice_id", "practice_tax_ids", ["practice_id"])


def downgrade():
    op.drop_index("ix_practice_tax_ids_practice_id", table_name="practice_tax_ids")
    op.drop_table("practice_tax_ids")
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("billing_details_at")
        for name, _ in reversed(ADDRESS_COLUMNS):
            batch.drop_column(name)
