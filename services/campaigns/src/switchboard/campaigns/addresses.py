"""Contact addresses in E.164, the only form Switchboard stores."""

from __future__ import annotations

import re

# `phonenumbers` is not among this service's dependencies, so the form is checked strictly here:
# a plus, a country code that does not start with 0, and 7 to 15 digits in all.
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def is_e164(address: str) -> bool:
    """True when `address` is a phone number in E.164 form, e.g. +15551234567."""
    return E164.fullmatch(address) is not None
