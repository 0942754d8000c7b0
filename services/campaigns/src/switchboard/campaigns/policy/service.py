"""Sending policies: one per tenant, the defaults for a tenant that never set one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.models import SendingPolicy
from switchboard.campaigns.policy.schemas import (
    DEFAULT_TIME_ZONE,
    PLATFORM_SEND_WINDOW,
    FrequencyCap,
    PolicyWrite,
    narrowed,
)
from switchboard.campaigns.timing.quiet_hours import SendWindow
from switchboard.campaigns.timing.zones import contact_zone, resolve_zone

_SECONDS_PER_HOUR = 3600


class Placed(Protocol):
    """A contact as the replica keeps it: the zone they set, and their number's zone and region
    (worked out when the contact changed)."""

    time_zone: str | None
    number_zone: str | None
    region: str | None


@dataclass(frozen=True, slots=True)
class Policy:
    """A tenant's sending policy as the scheduler applies it."""

    send_window: SendWindow = PLATFORM_SEND_WINDOW
    """The tenant's window as written; `window_for` narrows it to the platform's."""
    region_windows: Mapping[str, SendWindow] = field(default_factory=lambda: MappingProxyType({}))
    default_time_zone: str = DEFAULT_TIME_ZONE
    frequency_cap: FrequencyCap | None = None
    updated_at: datetime | None = None
    """None: the tenant never set a policy, and these are the defaults."""
    _windows: dict[str | None, SendWindow] = field(init=False, repr=False, compare=False)
    """The windows worked out so far, by region (None: outside any region's)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_windows", {None: narrowed(self.send_window)})

    def window_for(self, address: str) -> SendWindow:
        """The window a send to `address` must fall in: the platform's and the tenant's, and its
        region's when the number is of a region that has one. Checked when the policy was saved,
        so it always opens on some day (unless the platform's window changed since)."""
        if not self.region_windows:  # no need to read the number
            return self._windows[None]
        return self.window_in(region_of(address))

    def place(self, address: str, contact: Placed | None) -> tuple[ZoneInfo, SendWindow]:
        """The zone and send window of a send to `address`: from the replica's contact, else
        (a contact campaigns does not know) from the number itself."""
        if contact is None:
            zone = resolve_zone(None, address, self.default_time_zone)
            return zone.zone, self.window_for(address)
        zone = contact_zone(contact.time_zone, contact.number_zone, self.default_time_zone)
        return zone.zone, self.window_in(contact.region)

    def window_in(self, region: str | None) -> SendWindow:
        """`window_for` a number of `region` (None: a number of no known region)."""
        regional = self.region_windows.get(region) if region is not None else None
        if regional is None:
            return self._windows[None]
        if region not in self._windows:
            self._windows[region] = self._narrowed(regional)
        return self._windows[region]

    @property
    def effective_send_window(self) -> SendWindow:
        """The platform's window narrowed by the tenant's: what applies outside any region."""
        return self._windows[None]

    def effective_region_windows(self) -> dict[str, SendWindow]:
        """What applies to each region's contacts: the platform's, tenant's and region's."""
        return {region: self._narrowed(window) for region, window in self.region_windows.items()}

    def _narrowed(self, regional: SendWindow) -> SendWindow:
        return narrowed(self.send_window, regional)


@lru_cache(maxsize=65536)
def region_of(address: str) -> str | None:
    """The ISO 3166 region of a phone number (`+4915112345678` is DE, a `whatsapp:` prefix
    aside); None when the number is unparsable or of no one region."""
    try:
        number = phonenumbers.parse(address.removeprefix("whatsapp:"))
    except phonenumbers.NumberParseException:
        return None
    region: str | None = phonenumbers.region_code_for_number(number)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


class PolicyService:
    async def get(self, session: AsyncSession, tenant_id: UUID) -> Policy:
        """The tenant's policy, or the defaults when it never set one."""
        row = await session.get(SendingPolicy, tenant_id)
        return Policy() if row is None else _policy(row)

    async def put(self, session: AsyncSession, tenant_id: UUID, body: PolicyWrite) -> Policy:
        """Replace the tenant's policy with `body` (one statement: concurrent writes cannot
        both insert)."""
        cap = body.frequency_cap
        values = {
            "send_window": body.send_window.model_dump(mode="json"),
            "region_windows": {
                region: window.model_dump(mode="json")
                for region, window in body.region_windows.items()
            },
            "default_time_zone": body.default_time_zone,
            "frequency_cap": cap.max_messages if cap else None,
            "frequency_period_seconds": cap.period_hours * _SECONDS_PER_HOUR if cap else None,
        }
        statement = (
            insert(SendingPolicy)
            .values(tenant_id=tenant_id, **values)
            .on_conflict_do_update(
                index_elements=[SendingPolicy.tenant_id], set_={**values, "updated_at": func.now()}
            )
            .returning(SendingPolicy)
            .execution_options(populate_existing=True)
        )
        return _policy((await session.scalars(statement)).one())


def _policy(row: SendingPolicy) -> Policy:
    regions = {
        region: SendWindow.model_validate(window) for region, window in row.region_windows.items()
    }
    return Policy(
        send_window=SendWindow.model_validate(row.send_window),
        region_windows=MappingProxyType(regions),
        default_time_zone=row.default_time_zone,
        frequency_cap=_cap(row.frequency_cap, row.frequency_period_seconds),
        updated_at=row.updated_at,
    )


def _cap(max_messages: int | None, period_seconds: int | None) -> FrequencyCap | None:
    if max_messages is None or period_seconds is None:
        return None
    return FrequencyCap(max_messages=max_messages, period_hours=period_seconds // _SECONDS_PER_HOUR)


policy_service = PolicyService()
