"""practices.discount_terms: every discount on the subscription, not only the first (issue 17, F2)

Revision ID: i17x01
Revises: i18f01
Create Date: 2026-11-30 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i17x01"
down_revision = "i18f01"
branch_labels = None
depends_on = None


def upgrade():
    # add_column: SQLite keeps the table (a batch rebuild would drop AUTOINCREMENT).
    op.add_column("practices", sa.Column("discount_terms", sa.JSON(none_as_null=True), nullable=True))


def downgrade():
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("discount_terms")
