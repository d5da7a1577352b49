"""practices.details_version: the billing details form's version (a stale tab saves nothing);
practice_tax_ids: one row per (practice, type, value)

Revision ID: i15f01
Revises: i15d01
Create Date: 2026-12-01 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i15f01"
down_revision = "i15d01"
branch_labels = None
depends_on = None


def upgrade():
    # add_column and a unique index: SQLite keeps the table (a batch rebuild would drop AUTOINCREMENT).
    op.add_column(
        "practices", sa.Column("details_version", sa.Integer(), server_default="0", nullable=False)
    )
    # Copies left by concurrent saves before this revision: keep the oldest row of each tax ID.
    op.execute(
        "DELETE FROM practice_tax_ids WHERE id NOT IN ("
        "SELECT MIN(id) FROM practice_tax_ids GROUP BY practice_id, type, value)"
    )
    op.create_index(
        "uq_practice_tax_ids_value", "practice_tax_ids", ["practice_id", "type", "value"], unique=True
    )


def downgrade():
    op.drop_index("uq_practice_tax_ids_value", table_name="practice_tax_ids")
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("details_version")
