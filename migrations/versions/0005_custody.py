"""file_hashes and receipts: chain of custody with ASC MHL (issue 13)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_hashes",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("hashes", sa.Text(), nullable=False),
        sa.Column("history_root", sa.Text(), nullable=True),
        sa.Column("history_relpath", sa.Text(), nullable=True),
        sa.Column("verified_format", sa.String(length=16), nullable=True),
        sa.Column("hashed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_file_hashes_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_file_hashes")),
    )
    op.create_table(
        "receipts",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.Column("manifests", sa.Text(), nullable=True),
        sa.Column("sidecar", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_receipts_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_receipts")),
    )


def downgrade() -> None:
    op.drop_table("receipts")
    op.drop_table("file_hashes")
