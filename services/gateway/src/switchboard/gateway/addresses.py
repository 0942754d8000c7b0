"""Phone numbers in E.164, the only form Switchboard stores."""

from __future__ import annotations

import re

import phonenumbers

from switchboard.common.errors import BadRequest

# Providers send E.164 already; only other spellings need the (slower) full parser.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def provider_address(raw: str) -> str:
    """An address as a provider reports it (`whatsapp:` prefix dropped), checked for E.164."""
    candidate = raw.removeprefix("whatsapp:").strip()
    return candidate if _E164.fullmatch(candidate) else to_e164(candidate)


def to_e164(raw: str) -> str:
    """Normalise a phone number (`+` and country code required); `BadRequest` if it is not one."""
    candidate = raw.removeprefix("whatsapp:").strip()
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException as exc:
        raise BadRequest(f"{raw!r} is not a phone number in international form.") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise BadRequest(f"{raw!r} is not a possible phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
