"""The shape of Meta's WhatsApp webhooks, as far as the gateway reads them (the rest is ignored)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Metadata(Payload):
    phone_number_id: str
    display_phone_number: str | None = None


class MediaObject(Payload):
    id: str
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None


class Reply(Payload):
    id: str
    title: str
    description: str | None = None


class Interactive(Payload):
    type: str
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class Button(Payload):
    """A tap on a template's quick-reply button."""

    text: str
    payload: str | None = None


class Text(Payload):
    body: str


class Message(Payload):
    id: str = Field(min_length=1, max_length=64)
    from_: str = Field(alias="from")
    timestamp: str | None = None
    type: str
    text: Text | None = None
    image: MediaObject | None = None
    audio: MediaObject | None = None
    video: MediaObject | None = None
    document: MediaObject | None = None
    sticker: MediaObject | None = None
    interactive: Interactive | None = None
    button: Button | None = None


class StatusError(Payload):
    code: int | str
    title: str | None = None
    message: str | None = None


class Status(Payload):
    id: str = Field(min_length=1, max_length=64)
    status: str = Field(min_length=1)
    timestamp: str | None = None
    recipient_id: str | None = None
    biz_opaque_callback_data: str | None = None
    errors: list[StatusError] = []
    conversation: dict[str, Any] | None = None
    pricing: dict[str, Any] | None = None


class Value(Payload):
    metadata: Metadata
    messages: list[Message] = []
    statuses: list[Status] = []


class Change(Payload):
    field: str
    value: dict[str, Any]


class Entry(Payload):
    id: str
    changes: list[Change] = []


class Notification(Payload):
    """One POST: entries (one per business account) of changes, each with messages and statuses."""

    object: str
    entry: list[Entry] = []

    def values(self) -> list[Value]:
        """The `messages` changes, the only field the gateway subscribes to."""
        return [
            Value.model_validate(change.value)
            for entry in self.entry
            for change in entry.changes
            if change.field == "messages"
        ]
