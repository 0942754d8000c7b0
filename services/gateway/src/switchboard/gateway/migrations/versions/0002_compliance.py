"""compliance

Consent ledger, keywords, kill switch, destination countries and send budgets.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "tenant_compliance",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("outbound_paused", sa.Boolean(), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("help_text", sa.Text(), nullable=True),
        sa.Column("allowed_countries", postgresql.ARRAY(sa.String(length=2)), nullable=True),
        sa.Column("daily_budget", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_compliance")),
        schema="gateway",
    )
    op.create_table(
        "keyword_sets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("opt_out", postgresql.ARRAY(sa.String(length=60)), nullable=False),
        sa.Column("opt_in", postgresql.ARRAY(sa.String(length=60)), nullable=False),
        sa.Column("help", postgresql.ARRAY(sa.String(length=60)), nullable=False),
        sa.Column("opt_out_reply", sa.Text(), nullable=True),
        sa.Column("opt_in_reply", sa.Text(), nullable=True),
        sa.Column("help_reply", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "language", name=op.f("pk_keyword_sets")),
        schema="gateway",
    )
    op.create_table(
        "consents",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "address", name=op.f("pk_consents")),
        schema="gateway",
    )
    op.create_table(
        "consent_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sender_address", sa.String(length=64), nullable=True),
        sa.Column("keyword", sa.String(length=60), nullable=True),
        sa.Column("words", sa.Text(), nullable=True),
        sa.Column("inbound_message_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_history")),
        schema="gateway",
    )
    op.create_index(
        "ix_consent_history_address",
        "consent_history",
        ["tenant_id", "address", "id"],
        schema="gateway",
    )
    op.create_table(
        "keyword_replies",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("inbound_message_id", sa.Uuid(), nullable=False),
        sa.Column("keyword", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_keyword_replies")),
        schema="gateway",
    )
    op.create_table(
        "daily_sends",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "day", name=op.f("pk_daily_sends")),
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_table("daily_sends", schema="gateway")
    op.drop_table("keyword_replies", schema="gateway")
    op.drop_index("ix_consent_history_address", table_name="consent_history", schema="gateway")
    op.drop_table("consent_history", schema="gateway")
    op.drop_table("consents", schema="gateway")
    op.drop_table("keyword_sets", schema="gateway")
    op.drop_table("tenant_compliance", schema="gateway")
