"""How many SMS segments a body takes: GSM-7 (160/153) or UCS-2 (70/67).

A message that fits one segment has the whole 160 septets (70 UCS-2 units); a longer one is sent
as parts of 153 (67), each carrying a concatenation header. Carriers never split an escaped GSM
character (two septets) or a UTF-16 surrogate pair across two parts, so a part may end one unit
short; counting part by part gets that right where a plain division would not.
"""

from __future__ import annotations

from typing import Literal

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

Encoding = Literal["gsm7", "ucs2"]


def encoding_of(body: str) -> Encoding:
    """GSM-7 if every character has a GSM-7 code; one that has none makes it all UCS-2."""
    return "gsm7" if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in body) else "ucs2"


def count_segments(body: str) -> int:
    """Segments the carrier will bill for `body` (an empty body still takes one)."""
    if encoding_of(body) == "gsm7":
        units = [2 if c in _GSM_EXTENSION else 1 for c in body]
        single, part = 160, 153
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in body]
        single, part = 70, 67
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > part:
            parts, used = parts + 1, 0
        used += size
    return parts
