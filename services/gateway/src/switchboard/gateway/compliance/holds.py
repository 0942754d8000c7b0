"""The kill switch as the dispatcher's claim sees it: a paused tenant's messages are not claimed.

Held messages stay `queued` (nothing is lost) and go out when the tenant resumes. Keyword
confirmations are never held: the law wants the STOP confirmation sent. A held message with an
`expires_at` still expires: its sender said it is worthless after that time.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select

from switchboard.gateway.compliance.models import KeywordReply, TenantCompliance
from switchboard.gateway.models import OutboundMessage


def not_held() -> ColumnElement[bool]:
    """Claim condition on `OutboundMessage`: its tenant sends, or it is a keyword confirmation."""
    paused = select(TenantCompliance.tenant_id).where(TenantCompliance.outbound_paused)
    confirmation = exists().where(KeywordReply.message_id == OutboundMessage.id)
    return or_(
        OutboundMessage.tenant_id.not_in(paused),
        and_(OutboundMessage.origin == "system", confirmation),
    )
