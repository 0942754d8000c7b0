"""sender pacing

Per-sender sending rates: each number's type (its default rate) and an optional rate of its own,
and the next free sending slot of each number.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sender_numbers",
        sa.Column("number_type", sa.String(20), nullable=False, server_default="long_code"),
        schema="gateway",
    )
    op.add_column(
        "sender_numbers",
        sa.Column("messages_per_second", sa.Numeric(8, 3), nullable=True),
        schema="gateway",
    )
    op.execute(
        "UPDATE gateway.sender_numbers SET number_type = 'whatsapp' WHERE channel = 'whatsapp'"
    )
    op.create_table(
        "sender_pacing",
        sa.Column("sender_number_id", sa.Uuid(), nullable=False),
        sa.Column("next_slot", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_number_id"],
            ["gateway.sender_numbers.id"],
            name="fk_sender_pacing_sender_number_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sender_number_id", name="pk_sender_pacing"),
        schema="gateway",
    )
    # The claim looks for due messages of one sender at a time.
    op.create_index(
        "ix_outbound_messages_sender_due",
        "outbound_messages",
        ["sender_number_id", "priority", "created_at"],
        schema="gateway",
        postgresql_where=sa.text("status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_sender_due", "outbound_messages", schema="gateway")
    op.drop_table("sender_pacing", schema="gateway")
    op.drop_column("sender_numbers", "messages_per_second", schema="gateway")
    op.drop_column("sender_numbers", "number_type", schema="gateway")
