"""users.credential_version: emailed reset and email-change links die with the credentials

Revision ID: authfix01
Revises: checkout01
Create Date: 2026-11-30 06:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "authfix01"
down_revision = "checkout01"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (SQLite takes it with a constant default): no table rebuild, so the
    # users table keeps its AUTOINCREMENT.
    op.add_column(
        "users", sa.Column("credential_version", sa.Integer(), nullable=False, server_default=sa.text("0"))
    )


def downgrade():
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_column("credential_version")
