"""A rule's condition: structured JSON that says which events and contacts qualify.

A condition is a comparison, `{"field": "event.total", "op": "gt", "value": 100}`, or a
combination of conditions: `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}`. It is validated
into the models below when the rule is saved, and evaluated over *facts* when an event arrives:

    {"event": {"type": "order.shipped", "total": "42.50", ...},
     "contact": {"address": "+15551234567", "display_name": "Ada", "time_zone": "Europe/Paris",
                 "attributes": {"tier": "gold"}}}

Fields are `event.type`, `event.<attribute>`, `contact.address`, `contact.display_name`,
`contact.time_zone` and `contact.attributes.<name>`. No condition (`None`) always holds.

Evaluation never raises, whatever the facts hold:

- A field that is absent or null is *missing*, and every operator is false on a missing field
  except `not_exists`. So `ne` and `not_in` mean "present and different".
- When either side of an equality (`eq`, `ne`, `in`, `not_in`, a list's `contains`) is a number,
  the other side is read as a number, and `gt`, `gte`, `lt`, `lte` read the field as one. A
  number is an int or a float, never a bool; a string is read as one when, spaces around it
  aside, it is a plain decimal ("12.50", "-3", "1e3"; not "nan", "inf", "1_000" or "$5").
  Anything else makes the comparison false, never an error.
- When either side of an equality is a bool, the string "true" or "false" (in any case) is read
  as that bool; nothing else equals a bool (1 is not true).
- Strings otherwise compare exactly, case included.
- `before` and `after` read the field as an ISO-8601 date and time (a string or a datetime); one
  without a UTC offset is read as UTC, and one that is not a date and time makes them false.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal, NamedTuple, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "CONTACT_FIELDS",
    "MAX_COMPARISONS",
    "MAX_NESTING",
    "ROOTS",
    "AllOf",
    "AnyOf",
    "Comparison",
    "Condition",
    "Not",
    "Operator",
    "Root",
    "describe",
    "evaluate",
    "parse_condition",
    "referenced_fields",
]

Root = Literal["event", "contact"]
"""Where a field path starts: the event, or the contact it is about."""

ROOTS: frozenset[str] = frozenset(get_args(Root))
CONTACT_FIELDS: frozenset[str] = frozenset({"address", "display_name", "time_zone"})
"""The contact's own fields; its attributes are under `contact.attributes.<name>`."""

Operator = Literal[
    "eq",  # equal (see the module's docstring for numbers and booleans)
    "ne",  # present and not equal
    "gt",  # greater than a number
    "gte",  # greater than or equal to a number
    "lt",  # less than a number
    "lte",  # less than or equal to a number
    "in",  # equal to one of a list of values
    "not_in",  # present and equal to none of a list of values
    "contains",  # a string that contains the string, or a list with an item equal to the value
    "starts_with",  # a string that starts with the string
    "exists",  # present and not null; takes no value
    "not_exists",  # absent or null; takes no value
    "before",  # a date and time earlier than the ISO-8601 value
    "after",  # a date and time later than the ISO-8601 value
]

MAX_NESTING = 5
"""How many combinators (`all`, `any`, `not`) may enclose one another."""
MAX_COMPARISONS = 50
"""How many comparisons one condition may hold in all."""
MAX_LIST_VALUES = 100

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_LONGEST_NUMBER = 40  # longer strings are not read as numbers: int() refuses huge ones
_LONGEST_INSTANT = 64


def _field_path(path: str) -> str:
    root, _, rest = path.partition(".")
    segments = rest.split(".")
    if root not in ROOTS:
        raise _path_error(path, "Field '{path}' must start with 'event.' or 'contact.'.")
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        raise _path_error(
            path, "Field '{path}' must be dot-separated names of letters, digits and underscores."
        )
    if root == "event" and len(segments) != 1:
        raise _path_error(
            path, "Event fields are 'event.type' or 'event.<attribute>', not '{path}'."
        )
    if root == "contact" and not _is_contact_field(segments):
        raise _path_error(
            path,
            "Contact fields are 'contact.address', 'contact.display_name', "
            "'contact.time_zone' or 'contact.attributes.<name>', not '{path}'.",
        )
    return path


def _path_error(path: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("field_path", message, {"path": path})


def _is_contact_field(segments: list[str]) -> bool:
    if len(segments) == 1:
        return segments[0] in CONTACT_FIELDS
    return len(segments) == 2 and segments[0] == "attributes"


FieldPath = Annotated[str, StringConstraints(max_length=200), AfterValidator(_field_path)]
Scalar = (
    Annotated[str, Strict(), StringConstraints(max_length=1000)]
    | Annotated[int, Strict()]
    | Annotated[float, Strict(), AllowInfNan(False)]
    | Annotated[bool, Strict()]
)
Operand = Scalar | Annotated[list[Scalar], Field(max_length=MAX_LIST_VALUES)] | None


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar_list(value: object) -> bool:
    return isinstance(value, list) and len(value) > 0


def _is_prefix(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _is_absent(value: object) -> bool:
    return value is None


def _is_instant(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


_SCALAR = (_is_scalar, "a string, a number or a boolean")
_NUMBER = (_is_number, "a number")
_LIST = (_is_scalar_list, "a non-empty list of strings, numbers or booleans")
_PREFIX = (_is_prefix, "a non-empty string")
_ABSENT = (_is_absent, "no value")
_INSTANT = (_is_instant, "an ISO-8601 date and time with a UTC offset, e.g. '2025-03-01T09:00Z'")


class Comparison(BaseModel):
    """Compares one field of the facts with a value, e.g. `event.total gt 100`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: FieldPath = Field(examples=["event.total", "contact.attributes.tier"])
    op: Operator
    value: Operand = Field(default=None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _fits_the_operator(cls, value: Operand, info: ValidationInfo) -> Operand:
        op = info.data.get("op")
        if op is None:  # the operator itself was refused, and that is the error to report
            return value
        accepts, expected = _OPERATORS[op].operand
        if not accepts(value):
            raise PydanticCustomError(
                "operand", "'{op}' takes {expected}.", {"op": op, "expected": expected}
            )
        return value

    def holds(self, facts: Mapping[str, object]) -> bool:
        """Whether the field's value in `facts` passes the comparison."""
        actual = _lookup(facts, self.field)
        if actual is None:
            return self.op == "not_exists"
        return _OPERATORS[self.op].check(actual, self.value)

    def fields(self) -> Iterator[str]:
        """The field paths compared, in order."""
        yield self.field

    def describe(self) -> str:
        """The comparison in words, e.g. `event.total > 100`."""
        words = _OPERATORS[self.op].words
        if self.value is None:
            return f"{self.field} {words}"
        return f"{self.field} {words} {_quoted(self.value)}"


_COMBINATION = ConfigDict(extra="forbid", frozen=True)


class AllOf(BaseModel):
    """Holds when every one of its conditions holds."""

    model_config = _COMBINATION

    all: list[Condition] = Field(min_length=1, max_length=MAX_COMPARISONS)

    def holds(self, facts: Mapping[str, object]) -> bool:
        """Whether every condition holds over `facts`."""
        return all(condition.holds(facts) for condition in self.all)

    def fields(self) -> Iterator[str]:
        """The field paths compared, in order."""
        for condition in self.all:
            yield from condition.fields()

    def describe(self) -> str:
        """The conditions joined by 'and'."""
        return " and ".join(_grouped(condition) for condition in self.all)


class AnyOf(BaseModel):
    """Holds when at least one of its conditions holds."""

    model_config = _COMBINATION

    any: list[Condition] = Field(min_length=1, max_length=MAX_COMPARISONS)

    def holds(self, facts: Mapping[str, object]) -> bool:
        """Whether some condition holds over `facts`."""
        return any(condition.holds(facts) for condition in self.any)

    def fields(self) -> Iterator[str]:
        """The field paths compared, in order."""
        for condition in self.any:
            yield from condition.fields()

    def describe(self) -> str:
        """The conditions joined by 'or'."""
        return " or ".join(_grouped(condition) for condition in self.any)


class Not(BaseModel):
    """Holds when its condition does not."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True
    )

    condition: Condition = Field(alias="not")

    def holds(self, facts: Mapping[str, object]) -> bool:
        """Whether the condition fails over `facts`."""
        return not self.condition.holds(facts)

    def fields(self) -> Iterator[str]:
        """The field paths compared, in order."""
        return self.condition.fields()

    def describe(self) -> str:
        """'not' and the condition in brackets."""
        return f"not ({self.condition.describe()})"


def _kind(raw: object) -> str | None:
    """Which kind of condition `raw` is: its combinator key, else a comparison."""
    if isinstance(raw, dict):
        return next((key for key in ("all", "any", "not") if key in raw), "comparison")
    return _KINDS.get(type(raw))


def _subconditions(raw: object) -> list[object] | None:
    """The conditions directly inside `raw`, or None when it is a comparison."""
    if isinstance(raw, AllOf | AnyOf | Not):
        return list(_children(raw))
    kind = _kind(raw)
    if not isinstance(raw, dict) or kind == "comparison":
        return None
    children = raw[kind]
    if kind == "not":
        return [children]
    return children if isinstance(children, list) else None


def _children(combination: AllOf | AnyOf | Not) -> list[Condition]:
    if isinstance(combination, AllOf):
        return combination.all
    if isinstance(combination, AnyOf):
        return combination.any
    return [combination.condition]


def _bounded(raw: object) -> object:
    """Refuses a pathological tree before any of it is validated."""
    comparisons = 0

    def visit(node: object, nesting: int) -> None:
        nonlocal comparisons
        children = _subconditions(node)
        if children is None:
            comparisons += 1
            if comparisons > MAX_COMPARISONS:
                raise PydanticCustomError(
                    "too_many_comparisons",
                    "A condition holds at most {limit} comparisons.",
                    {"limit": MAX_COMPARISONS},
                )
            return
        if nesting == MAX_NESTING:
            raise PydanticCustomError(
                "nested_too_deep",
                "Conditions nest at most {limit} levels of all, any and not.",
                {"limit": MAX_NESTING},
            )
        for child in children:
            visit(child, nesting + 1)

    visit(raw, 0)
    return raw


Condition: TypeAlias = Annotated[
    Annotated[Comparison, Tag("comparison")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(
        _kind,
        custom_error_type="condition",
        custom_error_message="A condition is an object: a comparison {field, op, value}, "
        "or {all: [...]}, {any: [...]} or {not: {...}}.",
    ),
    BeforeValidator(_bounded),
]
"""A comparison, or a combination of conditions."""

_KINDS: dict[type, str] = {Comparison: "comparison", AllOf: "all", AnyOf: "any", Not: "not"}

for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()

_CONDITION: TypeAdapter[Condition | None] = TypeAdapter(Condition | None)


def parse_condition(raw: object) -> Condition | None:
    """A condition from its JSON form (None for none); raises pydantic's `ValidationError`."""
    return _CONDITION.validate_python(raw)


def evaluate(condition: Condition | None, facts: Mapping[str, object]) -> bool:
    """Whether `condition` holds over `facts`; no condition always holds."""
    return condition is None or condition.holds(facts)


def referenced_fields(condition: Condition | None) -> tuple[str, ...]:
    """The field paths `condition` compares, each once, in the order they first appear."""
    if condition is None:
        return ()
    return tuple(dict.fromkeys(condition.fields()))


def describe(condition: Condition | None) -> str:
    """`condition` in one line of words, for audit logs."""
    return "always" if condition is None else condition.describe()


def _grouped(condition: Condition) -> str:
    text = condition.describe()
    return text if isinstance(condition, Comparison | Not) else f"({text})"


def _quoted(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_quoted(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _lookup(facts: Mapping[str, object], path: str) -> object:
    value: object = facts
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _as_number(value: object) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str) or len(value) > _LONGEST_NUMBER:
        return None
    text = value.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else None
    return None


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return None


def _as_instant(value: object) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= _LONGEST_INSTANT:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _equal(actual: object, expected: object) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        left, right = _as_bool(actual), _as_bool(expected)
        return left is not None and left == right
    if _is_number(actual) or _is_number(expected):
        a, b = _as_number(actual), _as_number(expected)
        return a is not None and b is not None and a == b
    return isinstance(actual, str) and isinstance(expected, str) and actual == expected


def _ordered(test: Callable[[float, float], bool]) -> Callable[[object, object], bool]:
    def check(actual: object, expected: object) -> bool:
        a, b = _as_number(actual), _as_number(expected)
        return a is not None and b is not None and test(a, b)

    return check


def _timed(test: Callable[[datetime, datetime], bool]) -> Callable[[object, object], bool]:
    def check(actual: object, expected: object) -> bool:
        a, b = _as_instant(actual), _as_instant(expected)
        return a is not None and b is not None and test(a, b)

    return check


def _one_of(actual: object, expected: object) -> bool:
    return isinstance(expected, list) and any(_equal(actual, item) for item in expected)


def _contains(actual: object, expected: object) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list | tuple):
        return any(_equal(item, expected) for item in actual)
    return False


def _starts_with(actual: object, expected: object) -> bool:
    return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)


def _differs(actual: object, expected: object) -> bool:
    return not _equal(actual, expected)


def _none_of(actual: object, expected: object) -> bool:
    return not _one_of(actual, expected)


def _present(actual: object, expected: object) -> bool:
    return True  # reached only when the field has a value


def _absent(actual: object, expected: object) -> bool:
    return False  # reached only when the field has a value


class _OperatorRule(NamedTuple):
    operand: tuple[Callable[[object], bool], str]
    """Whether a value suits the operator, and what it takes, in words."""
    check: Callable[[object, object], bool]
    """Whether a field's value (never a missing one) passes, given the operator's value."""
    words: str


_OPERATORS: dict[str, _OperatorRule] = {
    "eq": _OperatorRule(_SCALAR, _equal, "="),
    "ne": _OperatorRule(_SCALAR, _differs, "!="),
    "gt": _OperatorRule(_NUMBER, _ordered(operator.gt), ">"),
    "gte": _OperatorRule(_NUMBER, _ordered(operator.ge), ">="),
    "lt": _OperatorRule(_NUMBER, _ordered(operator.lt), "<"),
    "lte": _OperatorRule(_NUMBER, _ordered(operator.le), "<="),
    "in": _OperatorRule(_LIST, _one_of, "in"),
    "not_in": _OperatorRule(_LIST, _none_of, "not in"),
    "contains": _OperatorRule(_SCALAR, _contains, "contains"),
    "starts_with": _OperatorRule(_PREFIX, _starts_with, "starts with"),
    "exists": _OperatorRule(_ABSENT, _present, "exists"),
    "not_exists": _OperatorRule(_ABSENT, _absent, "does not exist"),
    "before": _OperatorRule(_INSTANT, _timed(operator.lt), "before"),
    "after": _OperatorRule(_INSTANT, _timed(operator.gt), "after"),
}
