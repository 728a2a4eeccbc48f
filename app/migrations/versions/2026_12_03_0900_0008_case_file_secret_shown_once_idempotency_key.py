"""a case's secret shown once after the redirect that follows opening it (case_file.secret_sealed,
sealed with the opening form's key), and the key of the form that opened it
(case_file.idempotency_key_hash, unique: sending the same form again opens no second case). Two
nullable columns and a unique index: SQLite adds them without rebuilding case_file

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_sealed", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_case_file_idempotency_key_hash"), ["idempotency_key_hash"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_file_idempotency_key_hash"))
        batch_op.drop_column("idempotency_key_hash")
        batch_op.drop_column("secret_sealed")
