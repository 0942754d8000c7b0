"""Segment counts, as carriers bill them."""

from __future__ import annotations

import pytest

from switchboard.common.segments import count_segments, encoding_of


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("", "gsm7", 1),
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        # Extension characters take two septets each.
        ("€" * 80, "gsm7", 1),
        ("€" * 81, "gsm7", 2),
        ("a" * 159 + "€", "gsm7", 2),
        # An escape pair is never split: 152 septets then `€` does not fit in a 153-septet part.
        ("a" * 152 + "€" + "a" * 152, "gsm7", 3),
        ("a" * 151 + "€" + "a" * 151, "gsm7", 2),
        # One character without a GSM-7 code makes the whole message UCS-2.
        ("a" * 69 + "ç", "ucs2", 1),
        ("a" * 70 + "ç", "ucs2", 2),
        ("ç" * 134, "ucs2", 2),
        ("ç" * 135, "ucs2", 3),
        # Characters beyond the BMP are two UTF-16 units, never split across parts.
        ("👋" * 35, "ucs2", 1),
        ("👋" * 36, "ucs2", 2),
        ("a" * 66 + "👋" + "a" * 66, "ucs2", 3),
        ("a" * 65 + "👋" + "a" * 65, "ucs2", 2),
    ],
)
def test_segments_are_counted_as_carriers_bill_them(
    body: str, encoding: str, segments: int
) -> None:
    assert encoding_of(body) == encoding
    assert count_segments(body) == segments
