"""The compliance tables: consent ledger and its history, keywords, tenant outbound rules."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.gateway.models import Base


class TenantCompliance(Base):
    """A tenant's outbound rules: kill switch, help text, destination countries, daily budget."""

    __tablename__ = "tenant_compliance"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    outbound_paused: Mapped[bool] = mapped_column(default=False)
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    help_text: Mapped[str | None] = mapped_column(Text)
    allowed_countries: Mapped[list[str] | None] = mapped_column(ARRAY(String(2)))
    daily_budget: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class KeywordSet(Base):
    """A tenant's own keywords in one language, with the confirmations sent in that language."""

    __tablename__ = "keyword_sets"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    opt_out: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    opt_in: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    help: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    opt_out_reply: Mapped[str | None] = mapped_column(Text)
    opt_in_reply: Mapped[str | None] = mapped_column(Text)
    help_reply: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Consent(Base):
    """The current consent of one address for one tenant, whatever number or channel it uses."""

    __tablename__ = "consents"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), doc="opted_out or opted_in")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConsentChange(Base):
    """Append-only history of the ledger: who or what changed consent, when, how and where."""

    __tablename__ = "consent_history"
    __table_args__ = (Index("ix_consent_history_address", "tenant_id", "address", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    address: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), doc="keyword, operator or api")
    channel: Mapped[str] = mapped_column(String(20))
    sender_address: Mapped[str | None] = mapped_column(String(64), doc="the number it came in on")
    keyword: Mapped[str | None] = mapped_column(String(60))
    words: Mapped[str | None] = mapped_column(Text, doc="the contact's message, or a note")
    inbound_message_id: Mapped[uuid.UUID | None] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KeywordReply(Base):
    """A confirmation the gateway sent for a keyword: exempt from consent, budget, kill switch."""

    __tablename__ = "keyword_replies"

    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, doc="the outbound message")
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    inbound_message_id: Mapped[uuid.UUID] = mapped_column()
    keyword: Mapped[str] = mapped_column(String(20), doc="opt_out, opt_in or help")


class DailySends(Base):
    """Sends counted against a tenant's daily budget, per UTC day."""

    __tablename__ = "daily_sends"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer)
