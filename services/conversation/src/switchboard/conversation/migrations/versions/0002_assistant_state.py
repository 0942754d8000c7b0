"""assistant state

Personas, each tenant's assistant settings (kill switch, persona, segment limit, rate limit,
handoff phrases, model routes), the platform's AI switch, the entitlements replica, and what the
assistant keeps per conversation (handoff, review, rolling summary) and per turn (outcome, cost,
latency, fallback reasons, moderation verdict).

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


def upgrade() -> None:
    op.create_table(
        "assistant_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "default_persona", sa.String(length=64), server_default="default", nullable=False
        ),
        sa.Column("assistant_name", sa.String(length=100), nullable=True),
        sa.Column("business_facts", sa.Text(), server_default="", nullable=False),
        sa.Column("sms_max_segments", sa.Integer(), server_default="2", nullable=False),
        sa.Column("contact_messages_per_minute", sa.Integer(), server_default="10", nullable=False),
        sa.Column(
            "handoff_phrases",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "blocked_phrases",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "routes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_assistant_settings")),
        schema="conversation",
    )
    op.create_table(
        "entitlements",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("contact_address", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column(
            "remaining",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "contact_address", name=op.f("pk_entitlements")),
        schema="conversation",
    )
    op.create_table(
        "personas",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personas")),
        sa.UniqueConstraint("tenant_id", "slug", name="uq_personas_tenant_slug"),
        schema="conversation",
    )
    op.create_table(
        "platform_controls",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_platform_controls")),
        schema="conversation",
    )
    op.add_column(
        "contacts", sa.Column("persona", sa.String(length=64), nullable=True), schema="conversation"
    )
    op.add_column(
        "contacts",
        sa.Column("language", sa.String(length=35), nullable=True),
        schema="conversation",
    )
    op.add_column(
        "conversations",
        sa.Column("handler", sa.String(length=20), server_default="assistant", nullable=False),
        schema="conversation",
    )
    op.add_column(
        "conversations",
        sa.Column("handoff_reason", sa.Text(), nullable=True),
        schema="conversation",
    )
    op.add_column(
        "conversations",
        sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=True),
        schema="conversation",
    )
    op.add_column(
        "conversations",
        sa.Column("needs_review", sa.Boolean(), server_default="false", nullable=False),
        schema="conversation",
    )
    op.add_column(
        "conversations", sa.Column("review_reason", sa.Text(), nullable=True), schema="conversation"
    )
    op.add_column(
        "conversations", sa.Column("summary", sa.Text(), nullable=True), schema="conversation"
    )
    op.add_column(
        "conversations",
        sa.Column("summary_through_seq", sa.BigInteger(), server_default="0", nullable=False),
        schema="conversation",
    )
    op.add_column(
        "conversations",
        sa.Column("quota_notified", sa.Boolean(), server_default="false", nullable=False),
        schema="conversation",
    )
    op.add_column(
        "conversations",
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        schema="conversation",
    )
    op.add_column(
        "turns", sa.Column("outcome", sa.String(length=20), nullable=True), schema="conversation"
    )
    op.add_column(
        "turns",
        sa.Column("cost", sa.Numeric(precision=14, scale=6), nullable=True),
        schema="conversation",
    )
    op.add_column(
        "turns", sa.Column("latency_ms", sa.Integer(), nullable=True), schema="conversation"
    )
    op.add_column(
        "turns",
        sa.Column(
            "fallback", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        schema="conversation",
    )
    op.add_column(
        "turns",
        sa.Column("moderation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="conversation",
    )
    op.add_column(
        "turns", sa.Column("author", sa.String(length=200), nullable=True), schema="conversation"
    )


def downgrade() -> None:
    op.drop_column("turns", "author", schema="conversation")
    op.drop_column("turns", "moderation", schema="conversation")
    op.drop_column("turns", "fallback", schema="conversation")
    op.drop_column("turns", "latency_ms", schema="conversation")
    op.drop_column("turns", "cost", schema="conversation")
    op.drop_column("turns", "outcome", schema="conversation")
    op.drop_column("conversations", "closed_at", schema="conversation")
    op.drop_column("conversations", "quota_notified", schema="conversation")
    op.drop_column("conversations", "summary_through_seq", schema="conversation")
    op.drop_column("conversations", "summary", schema="conversation")
    op.drop_column("conversations", "review_reason", schema="conversation")
    op.drop_column("conversations", "needs_review", schema="conversation")
    op.drop_column("conversations", "handed_off_at", schema="conversation")
    op.drop_column("conversations", "handoff_reason", schema="conversation")
    op.drop_column("conversations", "handler", schema="conversation")
    op.drop_column("contacts", "language", schema="conversation")
    op.drop_column("contacts", "persona", schema="conversation")
    op.drop_table("platform_controls", schema="conversation")
    op.drop_table("personas", schema="conversation")
    op.drop_table("entitlements", schema="conversation")
    op.drop_table("assistant_settings", schema="conversation")
