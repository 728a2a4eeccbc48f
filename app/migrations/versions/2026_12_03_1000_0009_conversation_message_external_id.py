"""the channel's id of a newcomer's message (conversation_message.external_id), unique in its
conversation: a webhook delivery the provider repeats runs no second turn. A nullable column and a
unique index: SQLite adds them without rebuilding the table

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=120), nullable=True))
        batch_op.create_index(
            "ix_conversation_message_external", ["conversation_id", "external_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation_message", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_message_external")
        batch_op.drop_column("external_id")
