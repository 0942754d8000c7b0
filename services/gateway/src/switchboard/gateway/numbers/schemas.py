from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, SecretStr


class TwilioAccount(BaseModel):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr = Field(min_length=8)


class NumberCreate(BaseModel):
    address: str = Field(description="The number in E.164, e.g. +15551234567.")
    channel: Literal["sms"] = "sms"
    provider: Literal["twilio"] = "twilio"
    twilio: TwilioAccount


class NumberRead(BaseModel):
    id: UUID
    address: str
    channel: str
    provider: str
    account_sid: str
    created_at: datetime
