"""The local rule set: deterministic checks that always run, with no network and no model.

It is a floor, not a classifier: a few precompiled patterns for wording that is unambiguous in
a business's text conversations (threats, self-harm, hate, sexual content involving minors,
abuse), and for what an assistant must never send (card numbers, credentials, social security
numbers). Every pattern is anchored at word boundaries, so "Scunthorpe", "assistant" or
"Middlesex" never match, and built from phrases rather than single words, because single words
("kill", "die", "hopeless") are everyday speech ("this price will kill the competition"). The
provider check, where configured, catches what the rules cannot.

Some rules apply in one direction only:

- First-person self-harm intent ("I want to end my life") is looked for in inbound messages
  only: it is what a contact says, and the assistant's caring answer to it uses the same words.
- Card numbers, credentials and SSNs are looked for in outbound replies only: a contact may
  send their own card number (a person should see to it), but an assistant repeating one would
  put it in an SMS, which is neither encrypted nor deletable.

Text is compared after NFKC normalisation (full-width letters and digits become ASCII),
typographic apostrophes become ASCII ones, and whitespace runs become one space.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from switchboard.conversation.moderation.verdict import LOCAL, Category, Direction, Finding

BOTH: frozenset[Direction] = frozenset({"inbound", "outbound"})
INBOUND: frozenset[Direction] = frozenset({"inbound"})
OUTBOUND: frozenset[Direction] = frozenset({"outbound"})

QUOTE_LIMIT = 60
"""The longest matched wording a reason quotes."""

_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'"})
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """`text` as the rules read it (see the module's docstring)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHIC))


def _any(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


# "I'll", "we're going to", "im gonna"... followed by what they will do.
_I_WILL = _any(
    r"(?:i|we)(?:'ll| will|'m going to|'m gonna|'re going to|'re gonna| am going to"
    r"| am gonna| are going to| are gonna| gonna| wanna| want to)",
    r"im (?:going to|gonna)",
    "imma",
    "ill",
)
_PEOPLE = _any(
    "you",
    "u",
    "him",
    "her",
    "them",
    "y'all",
    "everyone",
    "everybody",
    r"your (?:family|kids|children|wife|husband|staff|boss|manager|people|employees)",
)
_MINOR = _any(
    "child",
    "children",
    "kids?",
    "minors?",
    r"little (?:girls?|boys?)",
    r"(?:[1-9]|1[0-7])[- ]?(?:yo|y/o|years? old|year-olds?|year olds?)",
)
_OF = r"(?: (?:a|an|my|your|the|this|some))?"
_GROUPS = _any(
    "jews",
    "muslims",
    "christians",
    "catholics",
    "hindus",
    "sikhs",
    "blacks",
    "whites",
    "asians",
    "arabs",
    "africans",
    "mexicans",
    "latinos",
    "hispanics",
    "immigrants",
    "migrants",
    "refugees",
    "gays",
    "lesbians",
    "women",
    r"(?:black|white|gay|trans|transgender|disabled|jewish|muslim) people",
)


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern for one kind of harm. `quote`: the reason may quote the matched words (never
    for data such as card numbers: the verdict is logged and stored)."""

    name: str
    category: Category
    directions: frozenset[Direction]
    pattern: re.Pattern[str]
    quote: bool = True


def _rule(
    name: str,
    category: Category,
    directions: frozenset[Direction],
    *patterns: str,
    ignore_case: bool = True,
    quote: bool = True,
) -> Rule:
    flags = re.IGNORECASE if ignore_case else 0
    compiled = re.compile(r"(?<!\w)" + _any(*patterns) + r"(?!\w)", flags)
    return Rule(name, category, directions, compiled, quote)


RULES: tuple[Rule, ...] = (
    _rule(
        "self-harm intent",
        Category.SELF_HARM,
        INBOUND,
        r"(?:kill|hurt|harm|cut|hang|shoot|drown|starve) myself",
        r"(?:end|take) my (?:own )?life",
        r"end it all",
        r"(?:want to|wanna|going to|planning to) die",
        r"wish i (?:was|were) dead",
        r"better off dead",
        r"suicidal",
        r"(?:commit|committing|thinking about|considering) suicide",
        r"no (?:point|reason) (?:in )?(?:living|to live|to go on|going on)",
        r"don't want to (?:live|be alive) anymore",
        r"feel(?:s|ing)? (?:so |really |completely |totally )?(?:hopeless|worthless)",
    ),
    _rule(
        "self-harm encouragement",
        Category.SELF_HARM,
        BOTH,
        r"(?:kill|hang|hurt|harm) yourself",
        r"kys",
        r"go die",
        r"you should (?:just )?die",
        r"(?:how|ways?|best way) to (?:kill|hang|hurt|harm) (?:yourself|myself|oneself)",
    ),
    _rule(
        "threat",
        Category.VIOLENCE,
        BOTH,
        _I_WILL + r" (?:kill|murder|stab|strangle|hurt|beat up|punch|smash|hunt down) " + _PEOPLE,
        _I_WILL + r" beat the (?:shit|crap|hell) out of " + _PEOPLE,
        r"(?:bomb|shoot up|blow up|burn down|torch) (?:the|your|this|that|ur) "
        r"(?:store|shop|office|place|building|school|restaurant|house|business|warehouse)",
        r"i know where you live",
        r"watch your back",
        r"(?:you're|you are|ur) (?:a )?dead (?:man|woman|meat)",
    ),
    _rule(
        "hate",
        Category.HATE,
        BOTH,
        r"(?:kill|exterminate|gas|eradicate|wipe out|lynch) (?:all )?(?:the |those |these )?"
        + _GROUPS,
        r"(?:all )?"
        + _GROUPS
        + r" (?:are|r) (?:animals|vermin|rats|cockroaches|subhuman|parasites|scum|filth"
        r"|savages|a disease|a plague)",
        _GROUPS + r" (?:should|must|deserve to|need to) (?:die|be killed|be exterminated|burn)",
        r"heil hitler",
        r"sieg heil",
    ),
    _rule(
        "sexual content involving minors",
        Category.SEXUAL_MINORS,
        BOTH,
        r"(?:child|kiddie|kiddy|underage|preteen|pre-teen) (?:porn|pornography|nudes?|erotica"
        r"|sex (?:tapes?|videos?|pics?|photos?|images?))",
        r"(?:nudes?|naked (?:pics?|photos?|pictures?|images?|videos?)|sexy (?:pics?|photos?)"
        r"|porn) (?:of|from|with)" + _OF + " " + _MINOR,
        r"(?:have|had|having) sex with" + _OF + " " + _MINOR,
        r"(?:hook|hooking) up with" + _OF + " " + _MINOR,
    ),
    _rule(
        "abuse",
        Category.HARASSMENT,
        BOTH,
        r"(?:fuck|screw|f\*+k|f\*+) (?:you|u|off)",
        r"go (?:fuck|screw) yourself",
        r"(?:you(?:'re| are)?|ur|u r|u) (?:a |an |such an? |fucking |stupid |fat |ugly |dumb )*"
        r"(?:idiot|moron|imbecile|retard|loser|bitch|cunt|whore|slut|asshole|dickhead|bastard"
        r"|piece of (?:shit|crap|garbage|trash)|waste of space)",
        r"(?:stupid|dumb|fucking|useless) (?:bitch|cunt|whore|slut|retard)",
        r"motherfuckers?",
        r"cocksuckers?",
    ),
    _rule(
        "social security number",
        Category.NATIONAL_ID,
        OUTBOUND,
        # Area 000, 666 and 9xx, group 00 and serial 0000 are never issued.
        r"(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}",
        r"(?!000|666|9)\d{3} (?!00)\d{2} (?!0000)\d{4}",
        r"(?:ssn|social security (?:number|no\.?|#))\W{0,5}\d{9}",
        quote=False,
    ),
    *(
        _rule(
            f"credential ({kind})",
            Category.CREDENTIALS,
            OUTBOUND,
            pattern,
            ignore_case=False,
            quote=False,
        )
        for kind, pattern in (
            (
                "OpenAI or Anthropic API key",
                r"sk-(?:proj-|ant-|live-|svcacct-)?[A-Za-z0-9_\-]{20,}",
            ),
            ("AWS access key id", r"(?:AKIA|ASIA)[0-9A-Z]{16}"),
            ("GitHub token", r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"),
            ("Slack token", r"xox[abprs]-[A-Za-z0-9\-]{10,}"),
            ("Stripe key", r"[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"),
            ("Google API key", r"AIza[0-9A-Za-z_\-]{35}"),
            ("Twilio API key", r"SK[0-9a-fA-F]{32}"),
            ("Switchboard API key", r"sb_[0-9a-f]{16}\.[A-Za-z0-9_\-]{20,}"),
            (
                "JSON web token",
                r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
            ),
            ("private key", r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
            # A value with a digit and a letter, so "Password: reset it online" passes.
            (
                "password",
                r"(?i:password|passcode|passwd|pwd|api[_ -]?key)\s*[:=]\s*"
                r"(?=\S*\d)(?=\S*[A-Za-z])\S{6,}",
            ),
        )
    ),
)


# Digit groups separated by single spaces or hyphens: how card numbers are written.
_DIGIT_RUN = re.compile(r"(?<!\w)\d+(?:[ -]\d+)*(?!\w)")
# Every major network's numbers start with 2 to 6 (Mastercard 2 and 5, Amex, Diners and JCB 3,
# Visa 4, Discover and UnionPay 6): that halves what an order number can be mistaken for.
_CARD_FIRST_DIGITS = frozenset("23456")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries in its last digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card_numbers(text: str) -> Iterator[str]:
    """Luhn-valid 13-19 digit numbers starting like a card's, written whole or in groups.

    Every run of consecutive groups is tried, so a card number after a reference ("ref 12
    4111 1111 1111 1111") or before an expiry year is still found.
    """
    for run in _DIGIT_RUN.finditer(text):
        groups = re.split(r"[ -]", run.group(0))
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                digits += group
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and digits[0] in _CARD_FIRST_DIGITS and luhn_valid(digits):
                    yield digits


@lru_cache(maxsize=1024)
def _phrase_patterns(phrases: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The tenant's phrases compiled once per distinct list (tenants' lists rarely change):
    whole words, any case, any whitespace between words."""
    compiled = []
    for phrase in phrases:
        words = normalise(phrase).split()
        if words:
            body = r"\s+".join(re.escape(word) for word in words)
            compiled.append((" ".join(words), re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)))
    return tuple(compiled)


def _quoted(name: str, match: re.Match[str]) -> str:
    words = match.group(0)
    if len(words) > QUOTE_LIMIT:
        words = words[: QUOTE_LIMIT - 1] + "…"
    return f'{name}: "{words}"'


def check_local(
    text: str, *, direction: Direction, extra_phrases: Sequence[str] = ()
) -> tuple[Finding, ...]:
    """Every rule that `text` breaks in this direction, one finding per rule (its first
    match), then the tenant's `extra_phrases` that it contains (in both directions)."""
    normalised = normalise(text)
    findings: list[Finding] = []
    for rule in RULES:
        if direction not in rule.directions:
            continue
        match = rule.pattern.search(normalised)
        if match is not None:
            reason = _quoted(rule.name, match) if rule.quote else rule.name
            findings.append(Finding(rule.category, LOCAL, reason))
    card = next(_card_numbers(normalised), None) if direction == "outbound" else None
    if card is not None:
        reason = f"payment card number ({len(card)} digits, Luhn-valid)"
        findings.append(Finding(Category.PAYMENT_CARD, LOCAL, reason))
    for phrase, pattern in _phrase_patterns(tuple(extra_phrases)):
        if pattern.search(normalised):
            findings.append(Finding(Category.BLOCKED_PHRASE, LOCAL, f'blocked phrase: "{phrase}"'))
    return tuple(findings)
