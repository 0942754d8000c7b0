"""Fitting a reply to its channel: SMS by the segments the carrier bills, WhatsApp by length.

The model is told the limit (`limit_instruction`) but does not always keep to it, so every reply
goes through `fit_reply` before it is sent:

1. Whitespace is normalised: runs of spaces become one space, lines are trimmed, a run of blank
   lines becomes one paragraph break; line breaks themselves are kept (lists, addresses).
   Unicode spaces (no-break, thin...) become plain spaces and zero-width characters go: on SMS
   a single one of them turns the whole message into UCS-2, which more than halves what a
   segment holds.
2. On SMS, typographic punctuation (curly quotes, dashes, "…", bullets) becomes its GSM-7
   equivalent when that makes the whole text GSM-7, as Twilio's Smart Encoding does: one curly
   apostrophe would otherwise cost the same as an emoji. Text with an emoji stays UCS-2
   anyway, so it is left as written.
3. A reply that is still too long is shortened: to the last sentence (or line) that fits, unless
   that would keep less than half of what a word-boundary cut keeps; else at a word boundary,
   with an ellipsis. Words are never cut, except a single word longer than the whole limit (a
   garbled URL), which is cut where it must be, but never inside an emoji, a flag or an accented
   letter.

The ellipsis is "..." in GSM-7 text and "…" otherwise: "…" is not GSM-7 and would turn the whole
message into UCS-2.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.common.segments import Encoding, count_segments, encoding_of
from switchboard.contracts import Channel

WHATSAPP_MAX_CHARS = 4096
"""The longest text body the WhatsApp Cloud API accepts."""

ELLIPSIS_GSM = "..."
ELLIPSIS_UNICODE = "…"
SENTENCE_MIN_SHARE = 0.5
"""A sentence-boundary cut is preferred if it keeps at least this share of a word cut."""

_SPACES = re.compile(r"[^\S\n]+")  # whitespace other than a line break: tabs, no-break...
_BLANK_LINES = re.compile(r"\n{3,}")
_INVISIBLE = str.maketrans(
    {
        "\u200b": None,  # zero-width space
        "\u2060": None,  # word joiner
        "\ufeff": None,  # byte order mark
        "\u00ad": None,  # soft hyphen
        "\u2028": "\n",  # line separator
        "\u2029": "\n\n",  # paragraph separator
    }
)
_GSM_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u2022": "-",
    }
)
# A sentence ends at . ! or ? (and any closing quotes or brackets) before a space or the end.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "vs", "e.g", "i.e", "approx"})
_WORD_END = re.compile(r"\S(?=\s)")
# What reads badly just before an ellipsis.
_DANGLING = " ,;:-/([{.\n\u2013\u2014"


@dataclass(frozen=True, slots=True)
class Shaped:
    """A reply as it will be sent. `segments`: the SMS segments it will be billed as (a
    WhatsApp message is one message: 1)."""

    text: str
    shortened: bool
    segments: int


def sms_capacity(max_segments: int, encoding: Encoding) -> int:
    """How many characters `max_segments` segments hold (GSM-7 extension characters such as
    "€" count twice): 160 or 70 in one segment, 153 or 67 per segment beyond."""
    if max_segments < 1:
        raise ValueError("An SMS reply needs at least one segment.")
    single, part = (160, 153) if encoding == "gsm7" else (70, 67)
    return single if max_segments == 1 else part * max_segments


def normalise(text: str, *, channel: Channel) -> str:
    """`text` with its whitespace normalised (and, on SMS, GSM-7 punctuation where that makes
    it GSM-7): steps 1 and 2 of the module's docstring."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    if channel == "sms":
        plain = text.translate(_GSM_PUNCTUATION)
        if encoding_of(plain) == "gsm7":
            return plain
    return text


def fit_reply(
    text: str,
    *,
    channel: Channel,
    max_segments: int,
    whatsapp_max_chars: int = WHATSAPP_MAX_CHARS,
) -> Shaped:
    """`text` normalised and, if it is over the channel's limit, shortened to fit it.

    `max_segments` is the tenant's SMS limit (ignored for WhatsApp); `whatsapp_max_chars` the
    WhatsApp one.
    """
    text = normalise(text, channel=channel)
    if channel == "sms":
        bound = sms_capacity(max_segments, "gsm7")  # no text longer than this can fit

        def fits(candidate: str) -> bool:
            return count_segments(candidate) <= max_segments

        def ellipsis(prefix: str) -> str:
            return ELLIPSIS_GSM if encoding_of(prefix) == "gsm7" else ELLIPSIS_UNICODE

    else:
        if whatsapp_max_chars < 1:
            raise ValueError("A WhatsApp reply needs room for at least one character.")
        bound = whatsapp_max_chars

        def fits(candidate: str) -> bool:
            return len(candidate) <= whatsapp_max_chars

        def ellipsis(prefix: str) -> str:
            return ELLIPSIS_UNICODE

    shortened = False
    if not fits(text):
        text, shortened = _shorten(text, bound, fits, ellipsis), True
    return Shaped(text, shortened, count_segments(text) if channel == "sms" else 1)


def limit_instruction(
    channel: Channel, max_segments: int, *, whatsapp_max_chars: int = WHATSAPP_MAX_CHARS
) -> str:
    """The sentences that tell the model its channel's limit, for its instructions."""
    if channel == "whatsapp":
        return (
            f"Reply in at most {whatsapp_max_chars} characters: this is a WhatsApp chat, so "
            "keep replies as short as a chat message."
        )
    return (
        f"Reply in at most {sms_capacity(max_segments, 'gsm7')} characters of plain text: this "
        "is an SMS, and longer replies are cut short. Use no emoji (one cuts the limit to "
        f"{sms_capacity(max_segments, 'ucs2')} characters) and no Markdown (SMS shows it as "
        "typed)."
    )


def _shorten(
    text: str, bound: int, fits: Callable[[str], bool], ellipsis: Callable[[str], str]
) -> str:
    """The longest sentence, word or (for one enormous word) character cut of `text` that fits.

    Each kind of cut is searched by bisection: a longer prefix of a text never fits where a
    shorter one does not (more characters never take fewer segments).
    """

    def with_ellipsis(prefix: str) -> str:
        return prefix + ellipsis(prefix)

    sentences = [text[:end].rstrip() for end in _sentence_ends(text) if end <= bound]
    words = [
        with_ellipsis(trimmed)
        for match in _WORD_END.finditer(text[: bound + 1])
        if (trimmed := text[: match.end()].rstrip(_DANGLING))
    ]
    sentence = _longest(len(sentences), sentences.__getitem__, fits)
    word = _longest(len(words), words.__getitem__, fits)
    if sentence is not None and (word is None or len(sentence) >= SENTENCE_MIN_SHARE * len(word)):
        return sentence
    if word is not None:
        return word
    cut = _longest(
        min(len(text), bound),
        lambda index: with_ellipsis(text[: _grapheme_boundary(text, index + 1)].rstrip()),
        fits,
    )
    return cut if cut is not None else ellipsis("")


def _sentence_ends(text: str) -> list[int]:
    """Where sentences and lines end, in order. An abbreviation such as "Dr." ends no
    sentence, and a line ending as if more follows ("Our hours:") ends none either."""
    ends = {m.start() for m in re.finditer(r"(?<=[^\s,;:(\[{/-])\n", text)}
    for match in _SENTENCE_END.finditer(text):
        words = text[: match.start()].split()
        if match.group(0)[0] != "." or not words or words[-1].lower() not in _ABBREVIATIONS:
            ends.add(match.end())
    return sorted(ends)


def _longest(
    count: int, candidate: Callable[[int], str], fits: Callable[[str], bool]
) -> str | None:
    """The last of `count` candidates (in growing length) that fits, found by bisection."""
    low, high = 0, count  # candidates below `low` fit, from `high` on they do not
    while low < high:
        middle = (low + high) // 2
        if fits(candidate(middle)):
            low = middle + 1
        else:
            high = middle
    return candidate(low - 1) if low else None


def _grapheme_boundary(text: str, index: int) -> int:
    """`index`, moved back until cutting there leaves no dangling joiner, modifier, combining
    mark or half of a flag (a flag is a pair of regional indicator letters)."""
    while 0 < index < len(text) and (_continues(text[index]) or text[index - 1] == "\u200d"):
        index -= 1
    if 0 < index < len(text) and _is_regional(text[index]):
        run = index
        while run > 0 and _is_regional(text[run - 1]):
            run -= 1
        if (index - run) % 2:
            index -= 1
    return index


def _continues(char: str) -> bool:
    """Whether `char` belongs to the character before it (so a cut must not fall before it)."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Mc", "Me")
        or code == 0x200D  # zero-width joiner
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tags (subdivision flags)
    )


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF
