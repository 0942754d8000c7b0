from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, SecretStr, model_validator


class TwilioAccount(BaseModel):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr = Field(min_length=8)


class MetaAccount(BaseModel):
    """A WhatsApp Cloud API number: its ids at Meta, a token that may send, the app's secret."""

    phone_number_id: str = Field(pattern=r"^[0-9]{1,32}$")
    waba_id: str = Field(pattern=r"^[0-9]{1,32}$", description="WhatsApp Business Account id.")
    access_token: SecretStr = Field(min_length=8)
    app_secret: SecretStr = Field(
        min_length=8, description="Signs Meta's webhooks (`X-Hub-Signature-256`)."
    )


NumberType = Literal["long_code", "toll_free", "short_code", "whatsapp"]


class Pacing(BaseModel):
    number_type: NumberType | None = Field(
        default=None,
        description="Sets the default sending rate (`SWITCHBOARD_GATEWAY_SEND_RATES`); "
        "default `whatsapp` on WhatsApp, else `long_code`.",
    )
    messages_per_second: float | None = Field(
        default=None, gt=0, le=1000, description="This number's own rate, instead of its type's."
    )


class NumberCreate(Pacing):
    address: str = Field(description="The number in E.164, e.g. +15551234567.")
    channel: Literal["sms", "whatsapp"] = "sms"
    provider: Literal["twilio", "meta"] = "twilio"
    twilio: TwilioAccount | None = None
    meta: MetaAccount | None = None

    @model_validator(mode="after")
    def _one_account(self) -> NumberCreate:
        account = self.meta if self.provider == "meta" else self.twilio
        if account is None:
            raise ValueError(f"`{self.provider}` credentials are required for this provider.")
        if (self.meta if self.provider == "twilio" else self.twilio) is not None:
            raise ValueError("Give the credentials of the chosen provider only.")
        if self.provider == "meta" and self.channel != "whatsapp":
            raise ValueError("A Meta number's channel is `whatsapp`.")
        return self


class NumberRead(BaseModel):
    id: UUID
    address: str
    channel: str
    provider: str
    account_sid: str | None = Field(description="Twilio account SID, or Meta phone_number_id.")
    number_type: str
    messages_per_second: float | None
    created_at: datetime


class NumberUpdate(Pacing):
    """Change how fast a number sends; a field left out keeps its value, `null` clears the rate."""
