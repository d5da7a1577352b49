"""practices: the plan switch a Stripe subscription schedule holds, the customer's balance;
practice_invoices.credit_applied (issue 17)

Revision ID: i17a01
Revises: i17c01
Create Date: 2026-11-30 15:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i17a01"
down_revision = "i17c01"
branch_labels = None
depends_on = None

PLAN = sa.Enum("monthly", "semiannual", name="plan", native_enum=False, length=16)


def upgrade():
    # add_column: SQLite keeps the table (a batch rebuild would drop AUTOINCREMENT).
    op.add_column("practices", sa.Column("schedule_id", sa.String(length=64), nullable=True))
    op.add_column("practices", sa.Column("pending_plan", PLAN, nullable=True))
    op.add_column("practices", sa.Column("pending_plan_at", sa.DateTime(), nullable=True))
    op.add_column(
        "practices", sa.Column("customer_balance", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "practices", sa.Column("customer_balance_at", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column(
        "practice_invoices", sa.Column("credit_applied", sa.BigInteger(), server_default="0", nullable=False)
    )


def downgrade():
    with op.batch_alter_table("practice_invoices") as batch:
        batch.drop_column("credit_applied")
    with op.batch_alter_table("practices") as batch:
        for column in (
            "customer_balance_at",
            "customer_balance",
            "pending_plan_at",
            "pending_plan",
            "schedule_id",
        ):
            batch.drop_column(column)
