"""outbound campaign

The campaign that requested an outbound message, kept with it so every `message.status_changed`
carries it and billing can attribute the message's cost to its campaign.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbound_messages",
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_column("outbound_messages", "campaign_id", schema="gateway")
