"""practices.creation_key: the create form's once-only key (concurrent posts of one form, one
practice); practices.unconfirmed_call: a billing call whose outcome Stripe left unknown

Revision ID: i20b01
Revises: invites01
Create Date: 2026-11-30 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i20b01"
down_revision = "invites01"
branch_labels = None
depends_on = None


def upgrade():
    # add_column and a unique index: SQLite keeps the table (a batch rebuild would drop AUTOINCREMENT).
    op.add_column("practices", sa.Column("creation_key", sa.String(length=80), nullable=True))
    op.create_index("uq_practices_creation_key", "practices", ["creation_key"], unique=True)
    op.add_column("practices", sa.Column("unconfirmed_call", sa.JSON(), nullable=True))


def downgrade():
    op.drop_index("uq_practices_creation_key", table_name="practices")
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("unconfirmed_call")
        batch.drop_column("creation_key")
