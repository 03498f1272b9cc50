"""an index for finding the next runnable jobs of a folder in order

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 13:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_state_folder_id", "jobs", ["state", "folder", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_state_folder_id", table_name="jobs")
