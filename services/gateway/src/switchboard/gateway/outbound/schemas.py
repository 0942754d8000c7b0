from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator


class TemplateSend(BaseModel):
    """An approved WhatsApp template; the only message allowed outside the 24-hour window."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15, description="e.g. `en_US`.")
    parameters: list[str] = Field(
        default=[], max_length=100, description="The body's {{1}}, {{2}}... in order."
    )
    components: list[dict[str, Any]] | None = Field(
        default=None, description="Graph API `components` as is (header, buttons)."
    )
    content_sid: str | None = Field(
        default=None,
        pattern=r"^HX[0-9a-fA-F]{32}$",
        description="Twilio Content SID of the template (`HX...`): needed from a Twilio number.",
    )


class MessageSend(BaseModel):
    to: str = Field(description="Recipient in E.164.")
    body: str = Field(default="", max_length=4096)
    from_: str | None = Field(
        default=None, alias="from", description="Sender number; default: the tenant's first."
    )
    channel: Literal["sms", "whatsapp"] = "sms"
    template: TemplateSend | None = Field(default=None, description="WhatsApp only.")
    idempotency_key: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _body_or_template(self) -> MessageSend:
        if self.template is not None and self.channel != "whatsapp":
            raise ValueError("Templates are sent on the `whatsapp` channel only.")
        if self.template is None and not self.body:
            raise ValueError("A message needs a `body` or a `template`.")
        if self.channel == "sms" and len(self.body) > 1600:
            raise ValueError("An SMS body is at most 1600 characters.")
        return self


class MessageQuery(BaseModel):
    """Filters of the messages list; every one is optional and they combine with AND."""

    direction: Literal["inbound", "outbound"] | None = None
    channel: Literal["sms", "whatsapp"] | None = None
    contact: str | None = Field(
        default=None, description="The contact's address (E.164): who a message was to or from."
    )
    status: str | None = Field(
        default=None, description="Delivery status (`received` for inbound messages)."
    )
    origin: Literal["reply", "campaign", "operator", "system"] | None = None
    after: datetime | None = None
    before: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)


class StatusRead(BaseModel):
    status: str
    source: str
    detail: dict[str, object]
    recorded_at: datetime


class MessageRead(BaseModel):
    id: UUID
    direction: Literal["inbound", "outbound"]
    channel: str
    from_address: str
    to_address: str
    body: str
    status: str
    origin: str | None = None
    provider_message_id: str | None = None
    segments: int | None = None
    price: Decimal | None = None
    error_code: str | None = None
    template: dict[str, Any] | None = None
    created_at: datetime


class MessageDetail(MessageRead):
    history: list[StatusRead] = []
