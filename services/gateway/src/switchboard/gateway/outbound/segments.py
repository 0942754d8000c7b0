"""How many SMS segments a body takes: GSM-7 (160/153) or UCS-2 (70/67)."""

from __future__ import annotations

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """Segments the carrier will bill; one non-GSM character makes the whole message UCS-2."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in body):
        units = sum(2 if c in _GSM_EXTENSION else 1 for c in body)
        return 1 if units <= 160 else -(-units // 153)
    # UCS-2 counts UTF-16 code units: characters beyond the BMP take two.
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)
