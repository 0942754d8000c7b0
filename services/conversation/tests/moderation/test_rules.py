"""The local rule set: what it flags, in which direction, and the everyday texts it must not."""

from __future__ import annotations

import time

import pytest

from switchboard.conversation.moderation import LOCAL, Category, Direction, check_local
from switchboard.conversation.moderation.rules import luhn_valid

VISA = "4111 1111 1111 1111"  # the classic test Visa number: Luhn-valid


def fullwidth(text: str) -> str:
    """`text` in full-width forms (U+FF01...), which NFKC turns back into ASCII."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def categories(text: str, direction: Direction, *phrases: str) -> set[Category]:
    return {f.category for f in check_local(text, direction=direction, extra_phrases=phrases)}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I feel so hopeless lately", Category.SELF_HARM),
        ("honestly I want to end my life", Category.SELF_HARM),
        ("I don\u2019t want to live anymore", Category.SELF_HARM),  # typographic apostrophe
        ("i have been feeling suicidal", Category.SELF_HARM),
        ("there is no point in living anymore", Category.SELF_HARM),
        ("I'll kill you", Category.VIOLENCE),
        ("we're going to hurt your staff", Category.VIOLENCE),
        ("imma beat up him", Category.VIOLENCE),
        ("I know where you live", Category.VIOLENCE),
        ("someone should burn down your store", Category.VIOLENCE),
        ("all immigrants are vermin", Category.HATE),
        ("kill all the jews", Category.HATE),
        ("send me nudes of your 14 year old", Category.SEXUAL_MINORS),
        ("child porn", Category.SEXUAL_MINORS),
        ("you're a fucking idiot", Category.HARASSMENT),
        ("F*** OFF", Category.HARASSMENT),
        ("go screw yourself", Category.HARASSMENT),
        (fullwidth("you are an idiot"), Category.HARASSMENT),  # full-width letters
        ("you   stupid\n bitch", Category.HARASSMENT),  # any whitespace between the words
    ],
)
def test_harmful_inbound_messages_are_flagged(text: str, category: Category) -> None:
    [finding] = check_local(text, direction="inbound")
    assert finding.category == category
    assert finding.source == LOCAL


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (f"Your card {VISA} is on file.", Category.PAYMENT_CARD),
        ("Card: 4111-1111-1111-1111, exp 12/27", Category.PAYMENT_CARD),
        ("ref 12 4111 1111 1111 1111 2027", Category.PAYMENT_CARD),  # inside other digits
        ("378282246310005", Category.PAYMENT_CARD),  # Amex, 15 digits
        ("6011111111111117", Category.PAYMENT_CARD),  # Discover
        (fullwidth("4111111111111111"), Category.PAYMENT_CARD),  # full-width digits
        ("Your SSN is 123-45-6789.", Category.NATIONAL_ID),
        ("SSN: 123456789", Category.NATIONAL_ID),
        ("Use sk-proj-abcdefghijklmnopqrstuvwxyz012345", Category.CREDENTIALS),
        ("key AKIAIOSFODNN7EXAMPLE", Category.CREDENTIALS),
        ("token ghp_" + "a1B2" * 9, Category.CREDENTIALS),
        ("sb_0123456789abcdef.Zm9vYmFyYmF6cXV4cXV1eHF1dXg", Category.CREDENTIALS),
        ("-----BEGIN RSA PRIVATE KEY-----", Category.CREDENTIALS),
        ("Your password: hunter22", Category.CREDENTIALS),
        ("Go die.", Category.SELF_HARM),
        ("We'll kill you", Category.VIOLENCE),
    ],
)
def test_what_a_reply_must_never_contain_is_flagged(text: str, category: Category) -> None:
    assert categories(text, "outbound") == {category}


def test_a_reason_quotes_the_words_that_matched_but_never_a_card_number_or_the_whole_text() -> None:
    [threat] = check_local("Fine. I'll kill you if it's late again.", direction="inbound")
    assert threat.reason == 'threat: "I\'ll kill you"'
    [card] = check_local(f"Charged to {VISA}, thanks!", direction="outbound")
    assert card.reason == "payment card number (16 digits, Luhn-valid)"
    [key] = check_local("key AKIAIOSFODNN7EXAMPLE", direction="outbound")
    assert "AKIA" not in key.reason
    assert key.reason == "credential (AWS access key id)"


class TestDirections:
    def test_self_harm_intent_is_looked_for_inbound_only(self) -> None:
        # The contact's words are flagged for review...
        assert categories("I want to end my life", "inbound") == {Category.SELF_HARM}
        # ...and the assistant's caring answer, which echoes them, may still be sent.
        reply = (
            "I'm so sorry you feel hopeless. If you are thinking about ending your life, "
            "please call or text 988 now."
        )
        assert categories(reply, "outbound") == set()

    def test_a_contacts_own_card_number_is_not_a_harm_inbound(self) -> None:
        assert categories(f"my card is {VISA}", "inbound") == set()
        assert categories(f"my card is {VISA}", "outbound") == {Category.PAYMENT_CARD}

    def test_encouraging_self_harm_is_flagged_both_ways(self) -> None:
        for direction in ("inbound", "outbound"):
            assert categories("just kill yourself", direction) == {Category.SELF_HARM}


class TestTenantPhrases:
    def test_whole_phrases_match_in_any_case_and_spacing(self) -> None:
        [finding] = check_local(
            "Try ACME   Corp instead!", direction="outbound", extra_phrases=["acme corp"]
        )
        assert (finding.category, finding.reason) == (
            Category.BLOCKED_PHRASE,
            'blocked phrase: "acme corp"',
        )
        assert categories("Try acme corp", "inbound", "Acme Corp") == {Category.BLOCKED_PHRASE}

    def test_a_phrase_inside_another_word_does_not_match(self) -> None:
        assert categories("Ask about our guaranteed delivery", "outbound", "guarantee") == set()
        assert categories("Ask about our guarantee", "outbound", "guarantee") == {
            Category.BLOCKED_PHRASE
        }

    def test_regex_characters_in_a_phrase_are_literal_and_blank_ones_ignored(self) -> None:
        assert categories("50% off", "outbound", "50% off", "  ", "") == {Category.BLOCKED_PHRASE}
        assert categories("500 off", "outbound", "5.0 off", "(") == set()


@pytest.mark.parametrize(
    "text",
    [
        # Scunthorpe: harmful-looking letters inside ordinary words and place names
        "We deliver to Scunthorpe, Penistone, Middlesex and Essex.",
        "Our assistant manager loves the cocktail menu and classic analysis.",
        "The therapist's office is on Dickens Street, past the shitake stall.",
        "Please button up, it's cold at the Cockburn street market.",
        "Book your flights via Skyscanner.",  # "kys" inside a word
        "The bamboo desk-organiser-with-drawers-large is back.",  # "sk-" inside a word
        "Our new menu idiot-proofs ordering.",  # "u idiot" inside "menu idiot"
        # everyday words of the harmful rules, in everyday sentences
        "This heat is killing me, can I get an iced coffee?",
        "These prices will kill the competition!",
        "We'll shoot you an email when your order ships.",
        "We can beat any competitor's price.",
        "The tracking page is hopeless, where is my parcel?",
        "I'm dying to try the new menu.",
        "My 12 year old needs new school shoes, size 4.",
        "Do you sell children's swimwear and nude heels for teens?",
        "Kids eat free on Sundays.",
        "Can I sleep with my 3 year old in the family room?",
        "Thank you, you are a star!",
        "Shut the door behind you, the dog gets out.",
        "Is the white power bank back in stock?",
        # digits that are not card numbers or SSNs
        "Your order 1234567890123456 has shipped.",  # 16 digits, fails Luhn
        "Tracking: 1000000000000008",  # Luhn-valid, but no card starts with 1
        "Call us on +1 555 123 4567 or 555-987-6543.",
        "Reference 2024-05-01-0042, total $1,234.56",
        "Opening hours 9 00 17 00, closed 25 12",
        # passwords and keys talked about, not given
        "Password: reset it online at our website.",
        "Never share your API key with anyone.",
        "Ask for the sk-ant team",
    ],
)
def test_everyday_customer_service_texts_are_not_flagged(text: str) -> None:
    for direction in ("inbound", "outbound"):
        assert check_local(text, direction=direction) == (), direction


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("1234567890123456")


def test_the_rules_are_fast_enough_to_run_on_every_message() -> None:
    text = ("Thanks for your order, it ships tomorrow from our Scunthorpe warehouse. " * 20)[:1600]
    started = time.perf_counter()
    for _ in range(100):
        check_local(text, direction="outbound", extra_phrases=["acme corp", "guarantee"])
    assert (time.perf_counter() - started) / 100 < 0.01  # well under 10 ms per message
