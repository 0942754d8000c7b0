"""Message templates: mistakes caught when the rule is saved, safe and bounded when it sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from switchboard.campaigns.rules.templates import (
    MAX_MESSAGE_LENGTH,
    MAX_SOURCE_LENGTH,
    MessageTemplate,
    TemplateError,
    compile_template,
    render,
)

AVAILABLE = [
    "contact.display_name",
    "contact.time_zone",
    "contact.attributes.*",
    "event.*",
    "tenant.name",
    "now",
]

CONTEXT: dict[str, Any] = {
    "event": {
        "type": "order.shipped",
        "order_id": "A-1001",
        "total": 42.5,
        "lines": [{"sku": "MUG-1", "qty": 2}, {"sku": "TEA-7", "qty": 1}],
        "delivery_at": "2025-03-04T15:00:00Z",
    },
    "contact": {
        "display_name": "Ada",
        "time_zone": "America/New_York",
        "attributes": {"tier": "gold", "nickname": None},
    },
    "tenant": {"name": "Teapot & Co"},
    "now": datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
}


def saved(source: str) -> MessageTemplate:
    return compile_template(source, available=AVAILABLE)


def sent(source: str, context: dict[str, Any] = CONTEXT) -> str:
    return render(saved(source), context)


def save_error(source: str) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        saved(source)
    return caught.value


def send_error(source: str, context: dict[str, Any] = CONTEXT) -> TemplateError:
    template = saved(source)
    with pytest.raises(TemplateError) as caught:
        render(template, context)
    return caught.value


class TestCompileTemplate:
    def test_a_template_lists_the_fields_it_reads(self) -> None:
        template = saved(
            "Hi {{ contact.display_name }}, {{ event.order_id }} for {{ contact.display_name }}"
        )
        assert template.fields == ("contact.display_name", "event.order_id")

    def test_an_unknown_field_is_an_error_naming_it_and_its_line(self) -> None:
        error = save_error("Hello!\nHi {{ contact.display_nmae }}")
        assert error.line == 2
        assert str(error) == (
            "Line 2: 'contact.display_nmae' is not an available field."
            " Did you mean 'contact.display_name'?"
        )

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("{{ contact.address }}", "'contact.address' is not an available field."),
            ("{{ customer.name }}", "'customer.name' is not a field; fields start with one of"),
            ("{{ event.order.id }}", "'event.order.id' is not an available field."),
            ("{{ contact.attributes }}", "'contact.attributes' is not an available field."),
            ("{% if event.x %}{{ tenant.id }}{% endif %}", "'tenant.id' is not an available"),
        ],
    )
    def test_only_declared_fields_can_be_read(self, source: str, message: str) -> None:
        assert message in str(save_error(source))

    def test_a_prefix_declared_with_a_star_allows_any_one_name_under_it(self) -> None:
        template = saved("{{ event.anything }} {{ contact.attributes.tier }} {{ event['a-b'] }}")
        assert template.fields == ("event.anything", "contact.attributes.tier", "event.a-b")

    def test_an_unknown_filter_is_an_error(self) -> None:
        error = save_error("Hi\n{{ contact.display_name | shout }}")
        assert str(error).startswith("Line 2: Unknown filter 'shout'; use one of: date, default")

    def test_an_unknown_test_is_an_error(self) -> None:
        assert "Unknown test 'callable'" in str(save_error("{{ event.x is callable }}"))

    def test_a_syntax_error_gives_its_line(self) -> None:
        error = save_error("Hi {{ contact.display_name }}\n\nYour order {{ event.order_id }")
        assert error.line == 3
        assert str(error).startswith("Line 3: ")

    def test_loop_variables_are_not_fields(self) -> None:
        template = saved(
            "{% for line in event.lines if line.qty %}{{ loop.index }}. {{ line.sku }}\n"
            "{% else %}nothing{% endfor %}"
        )
        assert template.fields == ("event.lines",)

    def test_a_loop_variable_is_unknown_outside_its_loop(self) -> None:
        error = save_error("{% for line in event.lines %}{% endfor %}{{ line.sku }}")
        assert "'line.sku' is not a field" in str(error)

    def test_a_template_too_long_is_refused(self) -> None:
        error = save_error("x" * (MAX_SOURCE_LENGTH + 1))
        assert str(error) == f"A template is at most {MAX_SOURCE_LENGTH} characters long."

    def test_an_empty_template_is_refused(self) -> None:
        assert str(save_error("  \n ")) == "The template is empty."

    def test_a_badly_declared_field_is_refused(self) -> None:
        with pytest.raises(TemplateError, match=r"'order\.total' cannot be declared"):
            compile_template("hi", available=["order.total"])

    def test_very_deep_nesting_is_an_error_not_a_crash(self) -> None:
        source = "{{ " + "(" * 1500 + "event.x" + ")" * 1500 + " }}"
        assert str(save_error(source)) == "The template nests too deeply."

    def test_a_template_error_is_a_validation_error_in_a_request_body(self) -> None:
        class RuleBody(BaseModel):
            template: str

            @field_validator("template")
            @classmethod
            def _compiles(cls, value: str) -> str:
                compile_template(value, available=AVAILABLE)
                return value

        with pytest.raises(ValidationError, match=r"'contact\.nmae' is not an available field"):
            RuleBody(template="Hi {{ contact.nmae }}")


class TestSandbox:
    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("{{ ''.__class__ }}", "Names starting with '_' are not allowed."),
            ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "Calling functions"),
            ("{{ cycler.__init__.__globals__ }}", "Names starting with '_' are not allowed."),
            ("{{ range(10**9) }}", "Calling functions or methods is not allowed"),
            ("{{ 'a' * 10**9 }}", "The ** operator is not allowed"),
            ("{{ lipsum }}", "'lipsum' is not a field"),
            ("{{ self }}", "'self' is not a field"),
            ("{{ contact.display_name.upper() }}", "Calling functions or methods"),
            ("{{ event[contact.display_name] }}", "Brackets take a fixed name or position"),
            ("{% set x = event.total %}{{ x }}", "{% set %} is not allowed"),
            ("{% include 'other' %}", "{% include %} is not allowed"),
            ("{% macro m() %}x{% endmacro %}", "{% macro %} is not allowed"),
        ],
    )
    def test_escapes_are_refused_when_saved(self, source: str, message: str) -> None:
        assert message in str(save_error(source))

    @pytest.mark.parametrize(
        "source",
        [
            "{{ 'a' * 1000000000 }}",
            "{{ [event.order_id] * 1000000000 }}",
            "{{ event.order_id * 100000 }}",
            "{{ event.order_id | replace('', '0123456789') | replace('', '0123456789')"
            " | replace('', '0123456789') }}",
            "{% for l in event.lines %}{{ contact.display_name * 1000 }}{% endfor %}",
        ],
    )
    def test_output_that_would_blow_up_is_refused_while_rendering(self, source: str) -> None:
        assert "characters; at most 1600 are allowed" in str(send_error(source))

    def test_percent_formatting_is_refused(self) -> None:
        error = send_error("{{ '%999999999d' % event.total }}")
        assert str(error) == "Formatting with '%' is not allowed; use filters."

    def test_numbers_still_take_a_remainder(self) -> None:
        assert sent("{{ 7 % 3 }} {{ event.total * 2 }}") == "1 85.0"

    def test_dictionary_methods_are_not_fields(self) -> None:
        error = send_error("{% for line in event.lines %}{{ line.items }}{% endfor %}")
        assert str(error) == "The template could not be filled in: 'items' has no value."


class TestRender:
    def test_a_message_is_filled_in(self) -> None:
        source = (
            "Hi {{ contact.display_name }}, order {{ event.order_id }}"
            " ({{ event.total }} USD) has shipped. {{ tenant.name }}"
        )
        assert sent(source) == "Hi Ada, order A-1001 (42.5 USD) has shipped. Teapot & Co"

    def test_a_missing_field_is_an_error_naming_it(self) -> None:
        error = send_error("Hi {{ contact.attributes.first_name }}")
        assert str(error) == (
            "The template could not be filled in: 'contact.attributes.first_name' has no value."
        )

    def test_a_null_field_is_missing(self) -> None:
        error = send_error("Hi {{ contact.attributes.nickname }}")
        assert "'contact.attributes.nickname' has no value" in str(error)

    def test_a_missing_root_is_an_error(self) -> None:
        error = send_error("{{ tenant.name }}", CONTEXT | {"tenant": None})
        assert "'tenant.name' has no value" in str(error)

    def test_default_fills_in_a_missing_or_null_field(self) -> None:
        source = (
            "Hi {{ contact.attributes.nickname | default(contact.display_name) }}"
            " {{ contact.attributes.first_name | default('there') }}"
        )
        assert sent(source) == "Hi Ada there"

    def test_is_defined_guards_an_optional_field(self) -> None:
        source = (
            "{% if contact.attributes.coupon is defined %}Use {{ contact.attributes.coupon }}"
            "{% elif contact.attributes.tier == 'gold' %}Gold perks apply"
            "{% else %}Thanks{% endif %}"
        )
        assert sent(source) == "Gold perks apply"

    def test_a_loop_over_a_list(self) -> None:
        source = (
            "Shipped:\n"
            "{% for line in event.lines %}\n"
            "  {{ loop.index }}. {{ line.qty }} x {{ line.sku }}\n"
            "{% endfor %}\n"
            "Thanks!"
        )
        assert sent(source) == "Shipped:\n1. 2 x MUG-1\n2. 1 x TEA-7\nThanks!"

    def test_whitespace_is_tidied(self) -> None:
        source = "  Hi   {{ contact.display_name }}  \n\n\n\n{% if false %}x{% endif %}  Bye\t!  \n"
        assert sent(source) == "Hi Ada\n\nBye !"

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("{{ contact.display_name | upper }}", "ADA"),
            ("{{ tenant.name | lower | title }}", "Teapot & Co"),
            ("{{ 'Your parcel is on its way' | truncate(13) }}", "Your..."),
            ("{{ event.order_id | replace('-', ' ') }}", "A 1001"),
            ("{{ event.total | round | int }}", "42"),
            ("{{ contact.display_name[0] }}.", "A."),
            ("{{ event.delivery_at | date('%b %d %H:%M') }}", "Mar 04 15:00"),
            ("{{ event.delivery_at | date('%H:%M', contact.time_zone) }}", "10:00"),
            ("{{ now | date('%Y-%m-%d') }}", "2025-03-01"),
        ],
    )
    def test_filters(self, source: str, expected: str) -> None:
        assert sent(source) == expected

    def test_a_date_filter_on_a_value_that_is_not_a_date_is_an_error(self) -> None:
        error = send_error("{{ event.order_id | date }}")
        assert str(error) == "'A-1001' is not an ISO-8601 date and time."

    def test_an_unknown_time_zone_is_an_error(self) -> None:
        error = send_error("{{ now | date('%H:%M', 'Mars/Olympus') }}")
        assert str(error) == "'Mars/Olympus' is not a time zone."

    def test_a_message_at_the_limit_is_sent_and_one_past_it_is_refused(self) -> None:
        context = CONTEXT | {"event": {"body": "x" * MAX_MESSAGE_LENGTH}}
        assert len(sent("{{ event.body }}", context)) == MAX_MESSAGE_LENGTH
        error = send_error("{{ event.body }}!", context)
        assert str(error) == "The message would be 1601 characters; at most 1600 are allowed."

    def test_an_empty_message_is_refused(self) -> None:
        error = send_error("{% if event.total > 100 %}Big order!{% endif %}")
        assert str(error) == "The message is empty once filled in."

    def test_a_runtime_type_error_is_a_template_error(self) -> None:
        error = send_error("{{ event.order_id - 1 }}")
        assert str(error).startswith("The template could not be filled in: unsupported operand")
