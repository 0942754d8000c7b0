"""Checkout, portal, invoices and family lines as the API shows and takes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from switchboard.billing.quotas.schemas import E164

Address = Annotated[str, StringConstraints(pattern=E164)]


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=40, examples=["basic"])
    contact_address: Address | None = Field(
        default=None, description="An end user who subscribes; leave out for the tenant itself."
    )
    lines: int = Field(default=1, ge=1, le=20, description="Lines, for a per-line plan.")
    send_link: StrictBool = Field(
        default=False, description="Text the Checkout link to the end user."
    )


class CheckoutRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    contact_address: str
    plan_id: str
    quantity: int
    url: str = Field(description="Where the customer pays (Stripe Checkout).")
    status: str
    created_at: datetime


class PortalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_address: Address | None = None


class PortalRead(BaseModel):
    url: str


class InvoiceRead(BaseModel):
    id: str
    status: str | None
    amount_due: int = Field(description="In the currency's smallest unit (cents).")
    amount_paid: int
    currency: str
    created: datetime
    hosted_invoice_url: str | None

    @classmethod
    def of(cls, invoice: dict[str, Any]) -> InvoiceRead:
        return cls(
            id=invoice["id"],
            status=invoice.get("status"),
            amount_due=invoice.get("amount_due") or 0,
            amount_paid=invoice.get("amount_paid") or 0,
            currency=invoice.get("currency") or "usd",
            created=datetime.fromtimestamp(invoice["created"], UTC),
            hosted_invoice_url=invoice.get("hosted_invoice_url"),
        )


class LineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_address: Address
