"""whatsapp cloud

Meta WhatsApp Cloud API senders, templates and the 24-hour window.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbound_messages", sa.Column("template", JSONB()), schema="gateway")
    # A Meta number is found by its phone_number_id (kept in account_sid) on every webhook.
    op.create_index(
        "uq_sender_numbers_meta_phone_number_id",
        "sender_numbers",
        ["account_sid"],
        unique=True,
        schema="gateway",
        postgresql_where=sa.text("provider = 'meta'"),
    )
    # The 24-hour window: a contact's last message to one sender number. WhatsApp only: an SMS
    # receipt (the hot path of ingest) does not maintain it.
    op.create_index(
        "ix_inbound_messages_window",
        "inbound_messages",
        ["sender_number_id", "from_address", "received_at"],
        schema="gateway",
        postgresql_where=sa.text("channel = 'whatsapp'"),
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_window", "inbound_messages", schema="gateway")
    op.drop_index("uq_sender_numbers_meta_phone_number_id", "sender_numbers", schema="gateway")
    op.drop_column("outbound_messages", "template", schema="gateway")
