"""practice invitations and ownership offers: nobody joins or owns a practice without accepting

Revision ID: invites01
Revises: tabsfix01
Create Date: 2026-11-30 06:55:00

"""

import sqlalchemy as sa
from alembic import op

revision = "invites01"
down_revision = "tabsfix01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "practice_invitations",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column(
            "role",
            sa.Enum("owner", "admin", "member", name="memberrole", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("invited_by_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["practice_id"], ["practices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("practice_id", "email", name="uq_practice_invitations_practice_email"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_practice_invitations_practice_id", "practice_invitations", ["practice_id"])
    op.create_index("ix_practice_invitations_invited_by_id", "practice_invitations", ["invited_by_id"])


def downgrade():
    op.drop_index("ix_practice_invitations_invited_by_id", table_name="practice_invitations")
    op.drop_index("ix_practice_invitations_practice_id", table_name="practice_invitations")
    op.drop_table("practice_invitations")
