"""guarded job state: operator cancels, sent completes, source actions, uncertain closes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("complete_sent_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("operator_cancelled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("source_action_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("batches") as batch_op:
        batch_op.add_column(sa.Column("close_sent_at", sa.DateTime(), nullable=True))
    # Jobs cancelled by an operator before this revision said so only in their error text.
    op.execute(
        "UPDATE jobs SET operator_cancelled_at = updated_at "
        "WHERE state = 'cancelled' AND last_error = 'cancelled by an operator'"
    )


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch_op:
        batch_op.drop_column("close_sent_at")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("source_action_at")
        batch_op.drop_column("operator_cancelled_at")
        batch_op.drop_column("complete_sent_at")
