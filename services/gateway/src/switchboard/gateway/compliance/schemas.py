"""HTTP models of the compliance API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from switchboard.contracts import Channel

KeywordList = list[str]


class ComplianceSettingsRead(BaseModel):
    outbound_paused: bool
    paused_at: datetime | None
    help_text: str = Field(description="What HELP and INFO answer (the tenant's or the default).")
    allowed_countries: list[str] | None = Field(
        description="ISO 3166 regions sends may go to; null: any."
    )
    daily_budget: int | None = Field(description="Messages per UTC day; null: no limit.")
    sent_today: int


class ComplianceSettingsUpdate(BaseModel):
    """Only the fields sent change; null clears one (default help text, any country, no limit)."""

    help_text: str | None = Field(default=None, max_length=1600)
    allowed_countries: list[str] | None = Field(default=None, max_length=300)
    daily_budget: int | None = Field(default=None, ge=0)


class KeywordSetWrite(BaseModel):
    opt_out: KeywordList = Field(default_factory=list, max_length=50)
    opt_in: KeywordList = Field(default_factory=list, max_length=50)
    help: KeywordList = Field(default_factory=list, max_length=50)
    opt_out_reply: str | None = Field(default=None, max_length=1600)
    opt_in_reply: str | None = Field(default=None, max_length=1600)
    help_reply: str | None = Field(default=None, max_length=1600)


class KeywordSetRead(KeywordSetWrite):
    language: str


class ConsentWrite(BaseModel):
    channel: Channel = "sms"
    source: Literal["operator", "api"] = "api"
    note: str | None = Field(default=None, max_length=500, description="Kept in the history.")


class ConsentChangeRead(BaseModel):
    status: str
    source: str
    channel: str
    sender_address: str | None
    keyword: str | None
    words: str | None
    inbound_message_id: UUID | None = None
    recorded_at: datetime


class ConsentRead(BaseModel):
    address: str
    status: Literal["opted_out", "opted_in", "unknown"]
    history: list[ConsentChangeRead]
