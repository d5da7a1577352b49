"""failed_jobs and reconcile_reports: the job queue's failures and the nightly drift report

Revision ID: i19q01
Revises: i17x01
Create Date: 2026-11-30 16:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i19q01"
down_revision = "i17x01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "failed_jobs",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("task_name", sa.String(length=128), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.Column("retried_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_failed_jobs_task_name", "failed_jobs", ["task_name"])
    op.create_index("ix_failed_jobs_failed_at", "failed_jobs", ["failed_at"])
    op.create_table(
        "reconcile_reports",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("drift_count", sa.Integer(), nullable=False),
        sa.Column("missing_events", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reconcile_reports_ran_at", "reconcile_reports", ["ran_at"])


def downgrade():
    op.drop_index("ix_reconcile_reports_ran_at", table_name="reconcile_reports")
    op.drop_table("reconcile_reports")
    op.drop_index("ix_failed_jobs_failed_at", table_name="failed_jobs")
    op.drop_index("ix_failed_jobs_task_name", table_name="failed_jobs")
    op.drop_table("failed_jobs")
