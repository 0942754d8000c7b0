"""The keyword rule: which messages are STOP, START or HELP, and which are just messages."""

from __future__ import annotations

import pytest

from switchboard.gateway.compliance.keywords import DEFAULT_BOOK, DEFAULT_KEYWORDS, book_of, match

OPT_OUT = [w for w, k in DEFAULT_KEYWORDS.items() if k == "opt_out"]
WHOLE = [w for w, k in DEFAULT_KEYWORDS.items() if k != "opt_out"]
CASES = [str.lower, str.upper, str.title]
WRAPS = ["{}", "{}.", "{}!!", "  {}  ", "{} please", "Please {}", "{}, thanks", '"{}"']


@pytest.mark.parametrize("word", list(DEFAULT_KEYWORDS))
@pytest.mark.parametrize("case", CASES, ids=["lower", "upper", "title"])
@pytest.mark.parametrize("wrap", WRAPS)
def test_every_keyword_matches_in_any_case_with_punctuation_and_polite_words(
    word: str, case: object, wrap: str
) -> None:
    assert callable(case)
    body = wrap.format(case(word))
    found = match(body, DEFAULT_BOOK)
    assert found is not None, body
    assert (found.keyword, found.word) == (DEFAULT_KEYWORDS[word], word)


@pytest.mark.parametrize("word", OPT_OUT)
@pytest.mark.parametrize("rest", ["sending me these", "texting me", "now!"])
def test_an_opt_out_keyword_may_start_a_short_message(word: str, rest: str) -> None:
    found = match(f"{word.upper()} {rest}", DEFAULT_BOOK)
    assert found is not None
    assert found.keyword == "opt_out"


@pytest.mark.parametrize("body", ["Opt-out", "OPT OUT.", "opt_out", "optout!"])
def test_opt_out_spelt_in_two_words_or_one(body: str) -> None:
    found = match(body, DEFAULT_BOOK)
    assert found is not None
    assert found.keyword == "opt_out"


@pytest.mark.parametrize(
    "body",
    [
        "don't stop the music",
        "see you at the end of the week",
        "I want to stop",
        "stop by the shop tomorrow at noon please",
        "Yes I'll be there",
        "help me find my order",
        "info about opening hours?",
        "start time is 9am",
        "stopped",
        "ending",
        "unstoppable",
        "Hi! Is my order #4412 on its way?",
        "",
        "...",
        "stop " * 40,
    ],
)
def test_ordinary_messages_are_not_keywords(body: str) -> None:
    assert match(body, DEFAULT_BOOK) is None


def test_a_tenant_keyword_matches_with_its_language() -> None:
    book = book_of([("es", "opt_out", ["baja"]), ("es", "help", ["ayuda"])])
    found = match("¡BAJA!", book)
    assert found is not None
    assert (found.keyword, found.word, found.language) == ("opt_out", "baja", "es")
    assert match("ayuda por favor", book) is None
    assert match("STOP", book) is not None
