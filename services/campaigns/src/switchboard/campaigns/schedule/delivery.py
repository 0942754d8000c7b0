"""What became of a sent message, from the gateway's status events, on its scheduled send."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.models import ScheduledSend
from switchboard.contracts import MessageStatusChangedData, is_forward

KEY_PREFIX = "campaigns:"


async def record_status(
    session: AsyncSession, tenant_id: UUID, data: MessageStatusChangedData
) -> bool:
    """Move the send's delivery status forward (a late `sent` never undoes `delivered`);
    whether this status was one of ours and new."""
    if data.origin != "campaign" or not data.idempotency_key.startswith(KEY_PREFIX):
        return False
    try:
        send_id = UUID(data.idempotency_key.removeprefix(KEY_PREFIX))
    except ValueError:
        return False
    statement = (
        select(ScheduledSend)
        .where(ScheduledSend.id == send_id, ScheduledSend.tenant_id == tenant_id)
        .with_for_update()
    )
    send = (await session.scalars(statement)).one_or_none()
    if send is None or not is_forward(send.delivery_status, data.status):
        return False
    send.delivery_status = data.status
    return True
