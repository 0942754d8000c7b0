"""A contact's time zone: from their profile, else their phone number, else the tenant's default."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from phonenumbers.timezone import time_zones_for_number

ZoneSource = Literal["profile", "number", "tenant"]


@dataclass(frozen=True, slots=True)
class ResolvedZone:
    """A contact's time zone, and where it came from."""

    zone: ZoneInfo
    source: ZoneSource


def validate_zone(name: str) -> str:
    """`name` itself when it is an IANA time zone (`Europe/London`), else ValueError."""
    if name not in _known_zones():
        raise ValueError(
            f"{name!r} is not an IANA time zone name (such as Europe/London or America/New_York)"
        )
    return name


def resolve_zone(profile_zone: str | None, address: str, tenant_default: str) -> ResolvedZone:
    """The contact's zone: their profile's when valid, else their phone number's, else the
    tenant's default (validated when the tenant saved it, so an invalid one is a ValueError)."""
    if profile_zone is not None and profile_zone in _known_zones():
        return ResolvedZone(ZoneInfo(profile_zone), "profile")
    if (zone := _number_zone(address)) is not None:
        return ResolvedZone(zone, "number")
    return ResolvedZone(ZoneInfo(validate_zone(tenant_default)), "tenant")


def contact_zone(
    profile_zone: str | None, number_zone: str | None, tenant_default: str
) -> ResolvedZone:
    """`resolve_zone` for a contact whose number's zone was already worked out (`number_zone`,
    None when the number has no one zone)."""
    if profile_zone is not None and profile_zone in _known_zones():
        return ResolvedZone(ZoneInfo(profile_zone), "profile")
    if number_zone is not None and number_zone in _known_zones():
        return ResolvedZone(ZoneInfo(number_zone), "number")
    return ResolvedZone(ZoneInfo(validate_zone(tenant_default)), "tenant")


def number_zone(address: str) -> str | None:
    """The name of the zone of a phone number's area or country, when that is one zone."""
    zone = _number_zone(address)
    return zone.key if zone is not None else None


def _number_zone(address: str) -> ZoneInfo | None:
    """The zone of a phone number's area or country, when that is one zone.

    A number spanning zones with different clocks (a US toll-free or an Australian mobile number)
    gives none. Zones that are one zone under several names (Europe/Jersey and Europe/London for a
    UK mobile number) count as one, and the name the others point to is preferred.
    """
    try:
        number = phonenumbers.parse(address.removeprefix("whatsapp:"))
    except phonenumbers.NumberParseException:
        return None
    names = time_zones_for_number(number)
    # Unknown or invalid numbers come back as the placeholder `Etc/Unknown`.
    if not names or not all(name in _known_zones() for name in names):
        return None
    targets = {_aliases().get(name, name) for name in names}
    if len(targets) != 1:
        return None
    [target] = targets
    return ZoneInfo(target if target in names else names[0])


@cache
def _known_zones() -> frozenset[str]:
    # Read once: `available_timezones()` walks the zone database on every call.
    return frozenset(available_timezones())


@cache
def _aliases() -> dict[str, str]:
    """Each alias in the tz database (`Europe/Jersey`) and the zone it names (`Europe/London`)."""
    source = files("tzdata.zoneinfo").joinpath("tzdata.zi").read_text(encoding="utf-8")
    aliases: dict[str, str] = {}
    for line in source.splitlines():
        if line.startswith("L "):  # a link line: "L <zone> <alias>"
            _, zone, alias = line.split()
            aliases[alias] = zone
    return aliases
