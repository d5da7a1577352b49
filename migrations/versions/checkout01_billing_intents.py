"""billing intents: one effect per rendered billing form (and per duplicate subscription)

Revision ID: checkout01
Revises: authmail01
Create Date: 2026-11-30 05:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "checkout01"
down_revision = "authmail01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "practice_billing_intents",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("intent_key", sa.String(length=64), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("redirect_to", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["practice_id"], ["practices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("practice_id", "action", "intent_key", name="uq_practice_billing_intents_key"),
        sqlite_autoincrement=True,  # ids never handed out twice (see portal.database.surrogate_id)
    )


def downgrade():
    op.drop_table("practice_billing_intents")
