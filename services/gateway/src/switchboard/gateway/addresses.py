"""Phone numbers in E.164, the only form Switchboard stores."""

from __future__ import annotations

import phonenumbers

from switchboard.common.errors import BadRequest


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
