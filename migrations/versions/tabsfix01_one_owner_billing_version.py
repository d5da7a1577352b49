"""one owner per practice (partial unique index); a billing version that stale tabs cannot claim

Practices that two racing "Make owner" posts left with two owners keep the member who
has owned it longest (the lowest membership id); the others become admins.

Revision ID: tabsfix01
Revises: authfix01
Create Date: 2026-11-30 06:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "tabsfix01"
down_revision = "authfix01"
branch_labels = None
depends_on = None

OWNER = sa.text("role = 'owner'")


def upgrade():
    op.execute(
        """
        UPDATE practice_members SET role = 'admin'
        WHERE role = 'owner' AND id > (
            SELECT MIN(first.id) FROM practice_members AS first
            WHERE first.practice_id = practice_members.practice_id AND first.role = 'owner'
        )
        """
    )
    op.create_index(
        "uq_practice_members_one_owner",
        "practice_members",
        ["practice_id"],
        unique=True,
        sqlite_where=OWNER,
        postgresql_where=OWNER,
    )
    op.add_column("practices", sa.Column("billing_version", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("billing_version")
    op.drop_index("uq_practice_members_one_owner", table_name="practice_members")
