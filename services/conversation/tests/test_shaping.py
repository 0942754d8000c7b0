"""Fitting replies to SMS segments and WhatsApp's length: normalising, the exact limits, and
where a reply too long is cut."""

from __future__ import annotations

import random

import pytest

from switchboard.common.segments import count_segments, encoding_of
from switchboard.conversation.shaping import (
    ELLIPSIS_GSM,
    ELLIPSIS_UNICODE,
    fit_reply,
    limit_instruction,
    normalise,
    sms_capacity,
)

GRIN = "\U0001f600"
FLAG_GB = "\U0001f1ec\U0001f1e7"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
THUMBS_UP_MEDIUM = "\U0001f44d\U0001f3fd"
E_ACUTE_COMBINING = "e\u0301"


def sms(text: str, max_segments: int = 1) -> tuple[str, bool, int]:
    shaped = fit_reply(text, channel="sms", max_segments=max_segments)
    return shaped.text, shaped.shortened, shaped.segments


def words(count: int, word: str = "word") -> str:
    return " ".join([word] * count)


class TestNormalising:
    def test_whitespace_runs_become_one_space_and_lines_are_trimmed(self) -> None:
        assert normalise("  Hi  there,\t\tfriend!  \n  See you ", channel="sms") == (
            "Hi there, friend!\nSee you"
        )

    def test_paragraph_breaks_are_kept_once_and_line_breaks_kept(self) -> None:
        text = "Hours:\r\nMon 9-5\r\n\r\n\r\n\n  \nThanks!\u2029Bye\u2028now"
        assert normalise(text, channel="sms") == "Hours:\nMon 9-5\n\nThanks!\n\nBye\nnow"

    def test_unicode_spaces_and_invisible_characters_do_not_force_ucs2(self) -> None:
        text = "Open\u00a0today\u2009from 9,\u200b see\u00adyou\ufeff"
        normalised = normalise(text, channel="sms")
        assert normalised == "Open today from 9, seeyou"
        assert encoding_of(normalised) == "gsm7"

    def test_typographic_punctuation_becomes_gsm7_on_sms(self) -> None:
        text = "We\u2019re open \u201c9\u20135\u201d \u2014 see you\u2026 \u2022 Bye"
        normalised = normalise(text, channel="sms")
        assert normalised == 'We\'re open "9-5" - see you... - Bye'
        assert sms(text) == (normalised, False, 1)

    def test_typographic_punctuation_stays_where_the_text_is_ucs2_anyway(self) -> None:
        text = f"We\u2019re open\u2026 {GRIN}"
        assert normalise(text, channel="sms") == text
        assert normalise("We\u2019re open", channel="whatsapp") == "We\u2019re open"

    def test_one_curly_apostrophe_would_otherwise_double_the_segments(self) -> None:
        text = "We\u2019re " + words(25)  # 131 characters
        assert count_segments(text) == 2  # as written: UCS-2
        assert sms(text) == (text.replace("\u2019", "'"), False, 1)

    def test_zero_width_joiners_in_emoji_are_kept(self) -> None:
        assert normalise(f"Hi {FAMILY}", channel="sms") == f"Hi {FAMILY}"


class TestExactLimits:
    @pytest.mark.parametrize(
        ("text", "max_segments"),
        [
            ("a" * 160, 1),
            ("a" * 306, 2),
            ("a" * 459, 3),
            ("\u20ac" * 80, 1),  # "€" is a GSM-7 extension: two septets each
            ("\u00e9" * 160, 1),  # "é" is GSM-7
            ("\u0436" * 70, 1),  # Cyrillic: UCS-2
            ("\u0436" * 134, 2),
            (GRIN * 35, 1),  # an emoji takes two UCS-2 units
        ],
    )
    def test_a_text_exactly_at_the_limit_is_kept_whole(self, text: str, max_segments: int) -> None:
        assert sms(text, max_segments) == (text, False, max_segments)

    @pytest.mark.parametrize(
        ("text", "max_segments"),
        [
            ("a" * 161, 1),
            ("a" * 307, 2),
            ("\u20ac" * 81, 1),
            ("\u0436" * 71, 1),
            ("\u0436" * 135, 2),
            (GRIN * 36, 1),
        ],
    )
    def test_one_more_unit_and_it_is_shortened(self, text: str, max_segments: int) -> None:
        shortened, was_shortened, segments = sms(text, max_segments)
        assert was_shortened
        assert segments <= max_segments
        assert count_segments(shortened) == segments

    def test_an_empty_reply_stays_empty(self) -> None:
        assert sms("  \n ") == ("", False, 1)

    def test_at_least_one_segment(self) -> None:
        with pytest.raises(ValueError, match="segment"):
            fit_reply("Hi", channel="sms", max_segments=0)


class TestShortening:
    def test_a_reply_is_cut_at_the_last_sentence_that_fits(self) -> None:
        first = "Thanks for your message! We are open Monday to Friday, 9am to 5pm."
        second = " Our shop is at 12 High Street, next to the bakery on the corner."
        third = " Parking is free after 6pm and all day on Sundays, right outside."
        assert sms(first + second + third) == (first + second, True, 1)

    def test_a_question_or_a_closing_quote_ends_a_sentence_too(self) -> None:
        question = (
            'Did you mean "the blue one in the window, next to the red one with the silver bow '
            'on top?"'
        )
        assert sms(f"{question} {words(40)}")[0] == question

    def test_a_sentence_that_keeps_too_little_gives_way_to_a_word_cut(self) -> None:
        text = "Hi! " + words(50)
        shortened, _, segments = sms(text)
        assert shortened == "Hi! " + words(30) + ELLIPSIS_GSM
        assert (len(shortened), segments) == (156, 1)

    def test_a_word_cut_keeps_every_word_that_fits_and_never_cuts_one(self) -> None:
        text = words(60, "abcdefg")  # words of 7, no sentence end
        shortened, _, _ = sms(text)
        kept = shortened.removesuffix(ELLIPSIS_GSM)
        assert shortened.endswith(ELLIPSIS_GSM)
        assert text.startswith(kept + " ")  # ends at a word boundary
        assert len(shortened) <= 160 < len(kept) + len(" abcdefg") + len(ELLIPSIS_GSM)

    def test_no_comma_or_dash_before_the_ellipsis(self) -> None:
        text = words(40, "one,") + " two"
        assert sms(text)[0].endswith("one" + ELLIPSIS_GSM)
        text = words(40, "one -") + " two"
        assert sms(text)[0].endswith("one" + ELLIPSIS_GSM)

    def test_an_abbreviation_is_no_sentence_end(self) -> None:
        text = (
            "Your appointment on Thursday at 3pm is confirmed; please arrive ten minutes early "
            "and ask for Dr. Smithson at the front desk, who will take you through to the room."
        )
        shortened, _, _ = sms(text)
        assert shortened.endswith(ELLIPSIS_GSM)
        assert len(shortened) > 150

    def test_a_line_ends_a_sentence_unless_it_leads_into_the_next(self) -> None:
        hours = (
            "Monday to Friday 9am-5pm, late opening Thursday\nSaturday 10am-4pm, Sunday 11am-3pm"
        )
        assert sms(f"{hours}\n{words(40)}")[0] == hours
        leading = (
            "Our opening hours are as follows, and they change in winter and on bank holidays, "
            "so please check them again before you come:"
        )
        assert not sms(f"{leading}\n{words(40)}")[0].endswith(":")

    def test_a_sentence_exactly_at_the_limit_is_kept(self) -> None:
        sentence = words(31) + " done."  # 160 characters
        assert sms(f"{sentence} And more.") == (sentence, True, 1)

    def test_a_paragraph_break_is_a_sentence_end(self) -> None:
        first = "Your order has shipped today and should arrive on Thursday by 6pm at the latest"
        assert sms(f"{first}\n\n{words(40)}") == (first, True, 1)

    def test_gsm7_text_gets_three_dots_so_it_stays_gsm7(self) -> None:
        shortened, _, segments = sms(words(100))
        assert shortened.endswith(ELLIPSIS_GSM)
        assert encoding_of(shortened) == "gsm7"
        assert segments == 1

    def test_ucs2_text_gets_the_one_character_ellipsis(self) -> None:
        shortened, _, segments = sms(f"Hi {GRIN} " + words(50))
        assert shortened.endswith(ELLIPSIS_UNICODE)
        assert segments == 1
        assert len(shortened.encode("utf-16-le")) // 2 <= 70

    def test_an_emoji_past_the_cut_does_not_shrink_what_is_kept(self) -> None:
        # UCS-2 as a whole, but the part that is kept is GSM-7: it gets GSM-7's 160 characters
        shortened, _, _ = sms(words(50) + f" {GRIN}")
        assert encoding_of(shortened) == "gsm7"
        assert len(shortened) > 150

    def test_more_segments_keep_more(self) -> None:
        text = ". ".join(words(8) for _ in range(30)) + "."
        for max_segments, capacity in ((1, 160), (2, 306), (3, 459), (5, 765)):
            shortened, was_shortened, segments = sms(text, max_segments)
            assert was_shortened
            assert segments <= max_segments
            assert capacity - 45 <= len(shortened) <= capacity  # a sentence is 44 characters


class TestOneEnormousWord:
    def test_a_word_longer_than_the_limit_is_cut_to_fit(self) -> None:
        assert sms("x" * 500) == ("x" * 157 + ELLIPSIS_GSM, True, 1)
        assert sms("https://example.com/" + "a" * 400, 2)[0] == (
            "https://example.com/" + "a" * 283 + ELLIPSIS_GSM
        )

    @pytest.mark.parametrize("unit", [GRIN, FLAG_GB, FAMILY, THUMBS_UP_MEDIUM, E_ACUTE_COMBINING])
    @pytest.mark.parametrize("lead", ["", "a", "ab", "abc"])  # every cut position
    def test_it_is_never_cut_inside_an_emoji_a_flag_or_an_accented_letter(
        self, unit: str, lead: str
    ) -> None:
        shortened, was_shortened, segments = sms(lead + unit * 100)
        assert (was_shortened, segments) == (True, 1)
        kept = shortened.removeprefix(lead).removesuffix(ELLIPSIS_UNICODE)
        assert kept == unit * (len(kept) // len(unit))
        assert len(kept) // len(unit) >= 1

    def test_flags_keep_as_many_whole_pairs_as_fit(self) -> None:
        # 17 flags take 68 UCS-2 units, and the ellipsis one more
        assert sms(FLAG_GB * 40)[0] == FLAG_GB * 17 + ELLIPSIS_UNICODE
        # A pair is found by counting from the run's start, wherever the run starts
        assert sms("ab" + FLAG_GB * 40)[0] == "ab" + FLAG_GB * 16 + ELLIPSIS_UNICODE
        assert sms("a" + FLAG_GB * 40)[0] == "a" + FLAG_GB * 17 + ELLIPSIS_UNICODE


class TestWhatsApp:
    def test_up_to_4096_characters_are_kept_whole(self) -> None:
        text = "a" * 4096
        shaped = fit_reply(text, channel="whatsapp", max_segments=1)
        assert (shaped.text, shaped.shortened, shaped.segments) == (text, False, 1)

    def test_a_longer_reply_is_cut_with_the_unicode_ellipsis(self) -> None:
        text = "Thanks! " + words(1000)
        shaped = fit_reply(text, channel="whatsapp", max_segments=1)
        assert shaped.shortened
        assert shaped.text.endswith("word" + ELLIPSIS_UNICODE)
        assert 4090 <= len(shaped.text) <= 4096

    def test_the_limit_can_be_set(self) -> None:
        shaped = fit_reply(
            "One. Two three four.", channel="whatsapp", max_segments=1, whatsapp_max_chars=12
        )
        assert shaped.text == "One. Two\u2026"
        tiny = fit_reply("Hello", channel="whatsapp", max_segments=1, whatsapp_max_chars=1)
        assert tiny.text == ELLIPSIS_UNICODE
        with pytest.raises(ValueError, match="WhatsApp"):
            fit_reply("Hello", channel="whatsapp", max_segments=1, whatsapp_max_chars=0)


@pytest.mark.parametrize("seed", range(40))
def test_any_reply_fits_and_is_a_prefix_of_what_the_model_wrote(seed: int) -> None:
    rng = random.Random(seed)
    vocabulary = ["ok", "the", "delivery", "Thursday.", "price,", "\u20ac5", GRIN, "caf\u00e9"]
    vocabulary += ["\u041f\u0440\u0438\u0432\u0435\u0442", FAMILY, "x" * 90, "Hi!", "\n\n"]
    text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 150)))
    max_segments = rng.randint(1, 4)
    normalised = normalise(text, channel="sms")
    shaped = fit_reply(text, channel="sms", max_segments=max_segments)
    assert count_segments(shaped.text) == shaped.segments <= max_segments
    if not shaped.shortened:
        assert shaped.text == normalised
    else:
        kept = shaped.text.removesuffix(ELLIPSIS_GSM).removesuffix(ELLIPSIS_UNICODE)
        assert normalised.startswith(kept)
        assert kept.strip()


class TestLimitInstruction:
    @pytest.mark.parametrize(
        ("max_segments", "gsm", "ucs2"), [(1, 160, 70), (2, 306, 134), (3, 459, 201)]
    )
    def test_sms_says_the_limit_in_characters(self, max_segments: int, gsm: int, ucs2: int) -> None:
        instruction = limit_instruction("sms", max_segments)
        assert instruction.startswith(f"Reply in at most {gsm} characters of plain text")
        assert "SMS" in instruction
        assert f"emoji (one cuts the limit to {ucs2} characters)" in instruction
        assert (sms_capacity(max_segments, "gsm7"), sms_capacity(max_segments, "ucs2")) == (
            gsm,
            ucs2,
        )

    def test_whatsapp_says_its_own_limit(self) -> None:
        assert "4096 characters" in limit_instruction("whatsapp", 2)
        assert "WhatsApp" in limit_instruction("whatsapp", 2)
        assert "1000 characters" in limit_instruction("whatsapp", 2, whatsapp_max_chars=1000)

    def test_at_least_one_segment(self) -> None:
        with pytest.raises(ValueError, match="segment"):
            limit_instruction("sms", 0)
