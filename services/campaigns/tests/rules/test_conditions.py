"""Rule conditions: clear errors when an operator saves one, predictable answers over real facts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from switchboard.campaigns.rules.conditions import (
    MAX_COMPARISONS,
    MAX_NESTING,
    Condition,
    describe,
    evaluate,
    parse_condition,
    referenced_fields,
)

FACTS: dict[str, Any] = {
    "event": {
        "type": "order.shipped",
        "order_id": "A-1001",
        "total": "42.50",  # tenants' systems often send numbers as strings
        "items": 3,
        "express": True,
        "gift": "false",
        "shipped_at": "2025-03-01T09:30:00+01:00",
        "tags": ["fragile", "priority", 7],
    },
    "contact": {
        "address": "+15551234567",
        "display_name": "Ada Lovelace",
        "time_zone": None,
        "attributes": {"tier": "gold", "visits": "12", "vip": "TRUE", "signed_up": "2024-11-05"},
    },
}


class RuleBody(BaseModel):
    """A request body carrying a condition, as the rule API's will."""

    condition: Condition | None = None


def comparison(field: str, op: str, value: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"field": field, "op": op}
    return body if value is None else body | {"value": value}


def holds(raw: dict[str, Any], facts: dict[str, Any] = FACTS) -> bool:
    return evaluate(parse_condition(raw), facts)


def error_messages(raw: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        parse_condition(raw)
    return [error["msg"] for error in caught.value.errors()]


def nested(levels: int) -> dict[str, Any]:
    condition = comparison("event.type", "exists")
    for _ in range(levels):
        condition = {"not": condition}
    return condition


class TestValidation:
    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (comparison("order.total", "gt", 1), "Field 'order.total' must start with 'event.'"),
            (comparison("event.total-eur", "gt", 1), "dot-separated names of letters, digits"),
            (comparison("event.order.id", "eq", "A"), "'event.type' or 'event.<attribute>'"),
            (comparison("contact.nmae", "exists"), "not 'contact.nmae'"),
            (comparison("contact.attributes", "exists"), "not 'contact.attributes'"),
            (comparison("event.total", "above", 1), "Input should be 'eq', 'ne'"),
            (comparison("event.tier", "in", "gold"), "'in' takes a non-empty list"),
            (comparison("event.tier", "not_in", []), "'not_in' takes a non-empty list"),
            (comparison("event.tier", "exists", "gold"), "'exists' takes no value."),
            (comparison("event.total", "gt", "100"), "'gt' takes a number."),
            (comparison("event.total", "lte", True), "'lte' takes a number."),
            (comparison("event.tier", "eq"), "'eq' takes a string, a number or a boolean."),
            (comparison("event.tier", "starts_with", ""), "'starts_with' takes a non-empty string"),
            (comparison("event.at", "before", "2025-03-01"), "with a UTC offset"),
            (comparison("event.at", "after", "next tuesday"), "with a UTC offset"),
            ({"all": []}, "List should have at least 1 item"),
            ({"field": "event.x", "op": "exists", "note": "hi"}, "Extra inputs are not permitted"),
            ({"all": [comparison("event.x", "exists")], "any": []}, "Extra inputs"),
            ("event.total > 100", "A condition is an object"),
        ],
    )
    def test_a_bad_condition_is_refused_with_a_message_naming_the_problem(
        self, raw: object, message: str
    ) -> None:
        assert any(message in text for text in error_messages(raw)), error_messages(raw)

    def test_the_error_points_at_the_offending_part_of_a_request_body(self) -> None:
        body = {"condition": {"all": [comparison("event.x", "exists"), {"not": "oops"}]}}
        with pytest.raises(ValidationError) as caught:
            RuleBody.model_validate(body)
        [error] = caught.value.errors()
        assert error["loc"] == ("condition", "all", "all", 1, "not", "not")
        assert error["msg"].startswith("A condition is an object")

    def test_combinators_nest_up_to_the_limit(self) -> None:
        assert parse_condition(nested(MAX_NESTING)) is not None
        assert error_messages(nested(MAX_NESTING + 1)) == [
            f"Conditions nest at most {MAX_NESTING} levels of all, any and not."
        ]

    def test_a_pathologically_deep_tree_is_refused_before_it_is_validated(self) -> None:
        # 900 levels would exhaust a recursive validator; the bound is checked first.
        assert error_messages(nested(900)) == [
            f"Conditions nest at most {MAX_NESTING} levels of all, any and not."
        ]

    def test_a_condition_holds_a_bounded_number_of_comparisons(self) -> None:
        one = comparison("event.type", "exists")
        assert parse_condition({"any": [one] * MAX_COMPARISONS}) is not None
        spread = {"all": [{"any": [one] * 30}, {"any": [one] * 30}]}
        assert error_messages(spread) == [
            f"A condition holds at most {MAX_COMPARISONS} comparisons."
        ]

    def test_a_condition_round_trips_through_json(self) -> None:
        raw = {
            "all": [
                {"field": "event.total", "op": "gte", "value": 40},
                {"not": {"field": "contact.attributes.tier", "op": "in", "value": ["x", 1]}},
            ]
        }
        assert RuleBody.model_validate({"condition": raw}).model_dump() == {"condition": raw}

    def test_no_condition_is_allowed(self) -> None:
        assert parse_condition(None) is None
        assert RuleBody.model_validate({}).condition is None


class TestEvaluate:
    @pytest.mark.parametrize(
        ("field", "op", "value", "expected"),
        [
            # numbers: a numeric string compares numerically with a number
            ("event.total", "eq", 42.5, True),
            ("event.total", "gt", 42, True),
            ("event.total", "lte", 42.5, True),
            ("event.total", "lt", 42.5, False),
            ("contact.attributes.visits", "gte", 12, True),
            ("event.items", "eq", "3", True),
            ("event.items", "in", ["2", 3], True),
            ("event.total", "eq", "42.5", False),  # two strings compare as text
            ("event.order_id", "gt", 5, False),  # not a number: false, not an error
            # booleans: "true"/"false" strings read as booleans; numbers never do
            ("event.express", "eq", True, True),
            ("event.gift", "eq", False, True),
            ("contact.attributes.vip", "eq", True, True),
            ("event.express", "eq", 1, False),
            ("event.express", "eq", "yes", False),
            # text is exact
            ("contact.attributes.tier", "eq", "Gold", False),
            ("contact.attributes.tier", "in", ["silver", "gold"], True),
            ("contact.attributes.tier", "not_in", ["silver", "gold"], False),
            ("contact.display_name", "contains", "Love", True),
            ("contact.display_name", "starts_with", "Ada", True),
            ("contact.address", "starts_with", "+44", False),
            ("event.tags", "contains", "priority", True),
            ("event.tags", "contains", "7", True),
            ("event.tags", "contains", "urgent", False),
            # present and different
            ("event.order_id", "ne", "A-1002", True),
            ("event.order_id", "ne", 5, True),
            ("event.order_id", "not_in", ["B-1"], True),
            # dates and times: offsets are honoured, no offset means UTC
            ("event.shipped_at", "after", "2025-03-01T08:29:59Z", True),
            ("event.shipped_at", "before", "2025-03-01T08:30:00Z", False),
            ("event.shipped_at", "before", "2025-03-01T09:30:01+01:00", True),
            ("contact.attributes.signed_up", "before", "2024-11-05T00:00:01Z", True),
            ("contact.attributes.signed_up", "after", "2024-11-04T23:00:00-02:00", False),
            ("event.order_id", "after", "2025-01-01T00:00Z", False),
        ],
    )
    def test_a_comparison_over_realistic_facts(
        self, field: str, op: str, value: Any, expected: bool
    ) -> None:
        assert holds(comparison(field, op, value)) is expected

    @pytest.mark.parametrize(
        ("op", "value"),
        [("eq", "x"), ("ne", "x"), ("gt", 0), ("in", ["x"]), ("not_in", ["x"]),
         ("contains", "x"), ("starts_with", "x"), ("exists", None),
         ("after", "2000-01-01T00:00Z")],
    )  # fmt: skip
    def test_every_comparison_on_a_missing_field_is_false(self, op: str, value: Any) -> None:
        assert holds(comparison("event.coupon", op, value)) is False

    @pytest.mark.parametrize(
        "field", ["event.coupon", "contact.time_zone", "contact.attributes.nickname"]
    )
    def test_not_exists_holds_for_an_absent_or_null_field(self, field: str) -> None:
        assert holds(comparison(field, "not_exists")) is True
        assert holds(comparison(field, "exists")) is False

    def test_facts_of_an_unexpected_shape_make_comparisons_false(self) -> None:
        odd = {"event": "order.shipped", "contact": {"attributes": ["tier"]}}
        assert holds(comparison("event.type", "eq", "order.shipped"), odd) is False
        assert holds(comparison("contact.attributes.tier", "eq", "gold"), odd) is False
        assert holds(comparison("event.total", "gt", 1), {}) is False

    def test_numbers_are_read_strictly_from_strings(self) -> None:
        for text in ["nan", "inf", "1_000", "$5", "0x10", "\u0661\u0662", "1" * 60]:
            facts = {"event": {"amount": text}}
            assert holds(comparison("event.amount", "gt", -1), facts) is False, text
        assert holds(comparison("event.amount", "eq", 1000), {"event": {"amount": " 1e3 "}})

    def test_a_datetime_in_the_facts_is_compared_as_an_instant(self) -> None:
        facts = {"event": {"occurred_at": datetime(2025, 3, 1, 8, 30, tzinfo=UTC)}}
        assert holds(comparison("event.occurred_at", "after", "2025-03-01T09:00+01:00"), facts)

    def test_nested_combinators(self) -> None:
        # Given: shipped orders over 40, to gold or VIP contacts, except gifts
        raw = {
            "all": [
                comparison("event.type", "eq", "order.shipped"),
                comparison("event.total", "gt", 40),
                {
                    "any": [
                        comparison("contact.attributes.tier", "eq", "gold"),
                        comparison("contact.attributes.vip", "eq", True),
                    ]
                },
                {"not": comparison("event.gift", "eq", True)},
            ]
        }
        # Then it holds for the sample facts, and fails once any part does
        assert holds(raw) is True
        gift = FACTS | {"event": FACTS["event"] | {"gift": "true"}}
        assert holds(raw, gift) is False
        small = FACTS | {"event": FACTS["event"] | {"total": "39.99"}}
        assert holds(raw, small) is False
        bronze = FACTS | {"contact": {"attributes": {"tier": "bronze"}}}
        assert holds(raw, bronze) is False

    def test_no_condition_always_holds(self) -> None:
        assert evaluate(None, {}) is True


class TestReferencedFields:
    def test_each_field_is_listed_once_in_order_of_appearance(self) -> None:
        condition = parse_condition(
            {
                "any": [
                    comparison("event.total", "gt", 1),
                    {"not": comparison("contact.attributes.tier", "eq", "gold")},
                    comparison("event.total", "lt", 100),
                ]
            }
        )
        assert referenced_fields(condition) == ("event.total", "contact.attributes.tier")

    def test_no_condition_references_nothing(self) -> None:
        assert referenced_fields(None) == ()


class TestDescribe:
    def test_a_condition_reads_as_one_line(self) -> None:
        condition = parse_condition(
            {
                "all": [
                    comparison("event.total", "gte", 40),
                    {
                        "any": [
                            comparison("contact.attributes.tier", "in", ["gold", "vip"]),
                            comparison("contact.time_zone", "not_exists"),
                        ]
                    },
                    {"not": comparison("event.gift", "eq", True)},
                ]
            }
        )
        assert describe(condition) == (
            "event.total >= 40"
            " and (contact.attributes.tier in ['gold', 'vip'] or contact.time_zone does not exist)"
            " and not (event.gift = true)"
        )

    def test_no_condition_reads_as_always(self) -> None:
        assert describe(None) == "always"
