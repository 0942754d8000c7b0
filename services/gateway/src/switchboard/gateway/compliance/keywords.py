"""Compliance keywords (STOP, START, HELP...) and the rule that decides a message is one.

The rule, after dropping case, punctuation and a few polite words ("please", "thanks"...):
an opt-out keyword must *start* a message of at most `MAX_WORDS` words; an opt-in or help keyword
must be the whole message. So "Stop.", "stop please", "STOP sending me these" and "Opt-out" opt
out, while "don't stop the music" and "see you at the end of the week" do not (a keyword comes
first, and long sentences never match); "Yes I'll be there" is an ordinary message. Erring
towards opt-out is the safe direction; an opt-in word must be unmistakable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from switchboard.contracts import Keyword

MAX_WORDS = 5
# Longer bodies cannot be five words of keywords and polite words: the fast path stops here.
MAX_CHARS = 80
MAX_KEYWORD_WORDS = 3

DEFAULT_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "opt out", "optout"),
        "opt_out",
    ),
    **dict.fromkeys(("start", "unstop", "yes"), "opt_in"),
    **dict.fromkeys(("help", "info"), "help"),
}
POLITE_WORDS = frozenset({"please", "pls", "plz", "thanks", "thank", "you", "thx", "now", "ok"})
DEFAULT_LANGUAGE = "en"

_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    keyword: Keyword
    word: str
    """The keyword as the rule read it (normalised: lower case, single spaces)."""
    language: str


def words_of(text: str) -> list[str]:
    """The words of a message, lower-cased, punctuation and polite words dropped."""
    return [w for w in _WORDS.findall(text.casefold()) if w not in POLITE_WORDS]


def normalise(keyword: str) -> str:
    """A keyword as it is stored and matched: its words, lower-cased, single-spaced."""
    return " ".join(_WORDS.findall(keyword.casefold()))


def match(body: str, book: Mapping[str, tuple[Keyword, str]]) -> KeywordMatch | None:
    """The keyword `body` is, under the rule above, among `book` (word -> keyword, language)."""
    if len(body) > MAX_CHARS:
        return None
    words = words_of(body)
    if not words or len(words) > MAX_WORDS:
        return None
    for size in range(min(MAX_KEYWORD_WORDS, len(words)), 0, -1):
        candidate = " ".join(words[:size])
        found = book.get(candidate)
        if found is not None and (found[0] == "opt_out" or size == len(words)):
            return KeywordMatch(keyword=found[0], word=candidate, language=found[1])
    return None


def book_of(sets: Iterable[tuple[str, Keyword, Iterable[str]]]) -> dict[str, tuple[Keyword, str]]:
    """The defaults plus a tenant's own (language, keyword, words); defaults always win."""
    book: dict[str, tuple[Keyword, str]] = {}
    for language, keyword, words in sets:
        for word in words:
            book[normalise(word)] = (keyword, language)
    book.update({w: (k, DEFAULT_LANGUAGE) for w, k in DEFAULT_KEYWORDS.items()})
    return book


DEFAULT_BOOK = book_of(())
