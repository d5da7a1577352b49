"""practices.closed_reason: why the platform closed the practice (its billing managers read it)

Revision ID: i21e01
Revises: i15f01
Create Date: 2026-12-01 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i21e01"
down_revision = "i15f01"
branch_labels = None
depends_on = None


def upgrade():
    # add_column: SQLite keeps the table (a batch rebuild would drop AUTOINCREMENT).
    op.add_column("practices", sa.Column("closed_reason", sa.String(length=400), nullable=True))


def downgrade():
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("closed_reason")
