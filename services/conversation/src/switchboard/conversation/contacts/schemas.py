from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel


class ContactRead(BaseModel):
    id: UUID
    address: str
    display_name: str | None
    time_zone: str | None
    attributes: dict[str, str]
    blocked: bool
    created_at: datetime
