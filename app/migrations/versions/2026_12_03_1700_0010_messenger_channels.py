"""messenger channels: where a conversation's answers go (conversation.address_encrypted, encrypted
like contact details) and the outbox of messages to send through a messenger's API
(channel_delivery), retried by the jobs runner

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 17:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_encrypted", sa.Text(), nullable=True))
    op.create_table(
        "channel_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address_encrypted", sa.Text(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("parts_sent", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversation.id"],
            name=op.f("fk_channel_delivery_conversation_id_conversation"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["conversation_message.id"],
            name=op.f("fk_channel_delivery_message_id_conversation_message"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_delivery")),
        sa.UniqueConstraint("source_key", name=op.f("uq_channel_delivery_source_key")),
    )
    with op.batch_alter_table("channel_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_channel_delivery_due", ["delivered_at", "failed_at", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_delivery_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_delivery_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_delivery_message_id"))
        batch_op.drop_index(batch_op.f("ix_channel_delivery_conversation_id"))
        batch_op.drop_index("ix_channel_delivery_due")
    op.drop_table("channel_delivery")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("address_encrypted")
