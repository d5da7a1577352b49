"""practices: the trial's end and paused payment collection (behavior, resume time, the admin's reason)

Revision ID: i17c01
Revises: i21e01
Create Date: 2026-12-01 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i17c01"
down_revision = "i21e01"
branch_labels = None
depends_on = None


def upgrade():
    # add_column: SQLite keeps the table (a batch rebuild would drop AUTOINCREMENT).
    op.add_column("practices", sa.Column("trial_end", sa.DateTime(), nullable=True))
    op.add_column("practices", sa.Column("pause_behavior", sa.String(length=32), nullable=True))
    op.add_column("practices", sa.Column("pause_resumes_at", sa.DateTime(), nullable=True))
    op.add_column("practices", sa.Column("pause_reason", sa.String(length=400), nullable=True))


def downgrade():
    with op.batch_alter_table("practices") as batch:
        batch.drop_column("pause_reason")
        batch.drop_column("pause_resumes_at")
        batch.drop_column("pause_behavior")
        batch.drop_column("trial_end")
