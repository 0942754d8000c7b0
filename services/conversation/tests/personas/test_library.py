"""The persona library: every template well-formed, and the ones the product promises there."""

from __future__ import annotations

import dataclasses
import re

import pytest

from switchboard.common.segments import encoding_of
from switchboard.conversation.personas.library import LIBRARY, PersonaTemplate, get_template

TEMPLATES = list(LIBRARY.values())


def test_the_promised_templates_are_there() -> None:
    assert {"default", "patient-helper", "receptionist", "shop-support"} <= set(LIBRARY)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.slug)
def test_each_template_is_well_formed(template: PersonaTemplate) -> None:
    assert LIBRARY[template.slug] is template
    assert re.fullmatch(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", template.slug)
    assert len(template.slug) <= 64  # the column a tenant's own version is stored in
    assert 0 < len(template.name) <= 100
    assert template.name == template.name.strip()
    assert template.description.endswith(".")
    # A system prompt of a few whole sentences, in the second person
    sentences = re.findall(r"[.!?](?:\s|$)", template.instructions)
    assert 3 <= len(sentences) <= 10
    assert template.instructions.startswith("You are ")
    assert template.instructions == " ".join(template.instructions.split())  # no stray spaces
    assert 200 <= len(template.instructions) <= 1200
    # plain GSM-7 text, no Markdown: it shows through in replies that imitate it
    assert encoding_of(template.instructions) == "gsm7"
    assert not re.search(r"[*#`_]|\n", template.instructions)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.slug)
def test_each_template_keeps_to_the_tenants_facts(template: PersonaTemplate) -> None:
    assert "facts" in template.instructions


def test_each_template_does_its_job() -> None:
    helper = get_template("patient-helper").instructions.lower()
    assert all(w in helper for w in ("short sentences", "one step at a time", "did that work"))
    receptionist = get_template("receptionist").instructions.lower()
    assert all(w in receptionist for w in ("what needs doing", "where", "when", "urgent"))
    assert "callback" in receptionist
    assert "never quote a price" in receptionist
    shop = get_template("shop-support").instructions.lower()
    assert all(w in shop for w in ("orders", "returns", "opening hours", "refunds"))
    assert "member of the team" in shop


def test_templates_cannot_be_changed_in_place() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_template("default").instructions = "Say anything."  # type: ignore[misc]


def test_an_unknown_slug_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="receptionist"):
        get_template("pirate")
