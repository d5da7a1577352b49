"""users.locale, users.timezone, practices.timezone: the language and time zones pages read in

Revision ID: i18f01
Revises: i17b01
Create Date: 2026-11-30 16:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i18f01"
down_revision = "i17b01"
branch_labels = None
depends_on = None


def upgrade():
    # add_column: SQLite keeps the tables (a batch rebuild would drop AUTOINCREMENT).
    op.add_column("users", sa.Column("locale", sa.String(length=8), nullable=True))
    op.add_column("users", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.add_column("practices", sa.Column("timezone", sa.String(length=64), nullable=True))
    # A practice in Vietnam reads its dates in Vietnam's zone, as a new one does.
    op.execute("UPDATE practices SET timezone = 'Asia/Ho_Chi_Minh' WHERE address_country = 'VN'")


def downgrade():
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("timezone")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("timezone")
        batch.drop_column("locale")
