"""A rule's message template: Jinja2 in a sandbox, checked against the rule's fields when saved.

An operator writes `Hi {{ contact.display_name | default("there") }}, order
{{ event.order_id }} has shipped.` `compile_template` checks it when the rule is saved, so a
typo such as `contact.nmae` is an error then rather than a failed send later; `render` fills it
in when the rule fires.

What a template may use:

- fields rooted at `event`, `contact`, `tenant` or `now`, each one declared available by the
  caller, exactly (`contact.display_name`) or as any one name under a prefix (`event.*`);
  brackets read a fixed name or position (`event["order-id"]`, `contact.display_name[0]`);
- `{% if %}` / `{% elif %}` / `{% else %}`, and `{% for x in ... %}` with its variables and
  `loop.index`, `loop.first`, `loop.last` and the like;
- the filters in `FILTERS` and the tests in `TESTS`;
- literals, comparisons, `and` / `or` / `not`, `~`, and arithmetic other than `**`.

Everything else is refused when the template is saved: calling functions or methods,
`{% set %}`, macros, includes, names starting with `_`. At render time a field that is absent or
null is an error unless `default` or `is defined` handles it; whitespace is tidied (runs of
spaces become one, lines are trimmed, at most one blank line in a row, none at either end); and
the message must not be empty nor longer than `MAX_MESSAGE_LENGTH`. Text that would grow past
that bound (`"a" * n`, chained `replace`) is refused before it is built, and so is `%` formatting.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2 import nodes
from jinja2.runtime import Context, LoopContext, StrictUndefined, Undefined
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "FILTERS",
    "MAX_MESSAGE_LENGTH",
    "MAX_SOURCE_LENGTH",
    "ROOTS",
    "TESTS",
    "MessageTemplate",
    "Root",
    "TemplateError",
    "compile_template",
    "render",
]

Root = Literal["event", "contact", "tenant", "now"]
"""What a template's fields start with: the event, its contact, the tenant, the time of sending."""

ROOTS: frozenset[str] = frozenset(get_args(Root))
FILTERS: frozenset[str] = frozenset(
    {"default", "upper", "lower", "title", "truncate", "replace", "round", "int", "date"}
)
TESTS: frozenset[str] = frozenset({"defined", "undefined", "none", "number", "string"})

MAX_SOURCE_LENGTH: Final = 4000
MAX_MESSAGE_LENGTH: Final = 1600
"""Ten SMS segments."""
# Raw output may be longer than the message: tidying the whitespace shortens it.
_RAW_OUTPUT_LIMIT: Final = 4 * MAX_MESSAGE_LENGTH

_DECLARED = re.compile(r"(?:event|contact|tenant|now)(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\.\*)?")
_LOOP_ATTRIBUTES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "previtem", "nextitem"}
)
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class TemplateError(ValueError):
    """A template that cannot be saved or rendered; the message is meant for the operator."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"Line {line}: {message}" if line is not None else message)
        self.line = line


@dataclass(frozen=True)
class MessageTemplate:
    """A template that passed the save-time checks, ready to render."""

    source: str
    fields: tuple[str, ...]
    """The field paths it reads, each once, in order (loop variables aside)."""
    compiled: jinja2.Template = field(repr=False, compare=False)


def compile_template(source: str, *, available: Iterable[str]) -> MessageTemplate:
    """Checks `source` against the `available` fields and compiles it, or raises `TemplateError`."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise TemplateError(f"A template is at most {MAX_SOURCE_LENGTH} characters long.")
    if not source.strip():
        raise TemplateError("The template is empty.")
    checker = _Checker(_Available.of(available))
    try:
        tree = _SANDBOX.parse(source)
        checker.visit(tree, frozenset())
        compiled = _SANDBOX.from_string(tree)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(error.message or "Invalid syntax.", line=error.lineno) from error
    except (RecursionError, SyntaxError) as error:
        # Jinja parses and Python compiles recursively: both give up on very deep nesting.
        raise TemplateError("The template nests too deeply.") from error
    return MessageTemplate(source, tuple(checker.references), compiled)


def render(template: MessageTemplate, context: Mapping[str, object]) -> str:
    """The message `template` makes from `context` (`{"event": ..., "contact": ...}`)."""
    values = {
        name: _Record(name, value) if isinstance(value, Mapping) else value
        for name, value in context.items()
        if value is not None
    }
    try:
        text = _tidy(_collect(template.compiled.generate(values)))
    except TemplateError:
        raise
    except jinja2.TemplateError as error:
        reason = error.message or type(error).__name__
        raise TemplateError(f"The template could not be filled in: {reason}") from error
    except (TypeError, ValueError, ArithmeticError) as error:
        raise TemplateError(f"The template could not be filled in: {error}") from error
    if not text:
        raise TemplateError("The message is empty once filled in.")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise TemplateError(_too_long(len(text)))
    return text


def _too_long(length: int | str) -> str:
    return f"The message would be {length} characters; at most {MAX_MESSAGE_LENGTH} are allowed."


def _collect(chunks: Iterator[str]) -> str:
    parts: list[str] = []
    length = 0
    for chunk in chunks:
        length += len(chunk)
        if length > _RAW_OUTPUT_LIMIT:
            raise TemplateError(_too_long(f"over {_RAW_OUTPUT_LIMIT}"))
        parts.append(chunk)
    return "".join(parts)


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True)
class _Available:
    """The fields a rule's template may read: exact paths, and prefixes taking any one name."""

    exact: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def of(cls, declared: Iterable[str]) -> _Available:
        paths = list(declared)
        for path in paths:
            if not _DECLARED.fullmatch(path):
                raise TemplateError(f"'{path}' cannot be declared as a template field.")
        exact = frozenset(path for path in paths if not path.endswith(".*"))
        prefixes = frozenset(path.removesuffix(".*") for path in paths if path.endswith(".*"))
        return cls(exact, prefixes)

    def covers(self, path: str) -> bool:
        prefix = path.rpartition(".")[0]
        return path in self.exact or prefix in self.prefixes

    def unknown(self, path: str) -> str:
        """Why `path` cannot be read, with the closest available field if one is close."""
        if path.partition(".")[0] not in ROOTS:
            roots = ", ".join(sorted(ROOTS))
            return f"'{path}' is not a field; fields start with one of: {roots}."
        close = difflib.get_close_matches(path, sorted(self.exact), n=1, cutoff=0.8)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f"'{path}' is not an available field.{hint}"


_REFUSED: dict[type[nodes.Node], str] = {
    nodes.Call: "Calling functions or methods",
    nodes.Pow: "The ** operator",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from %}",
    nodes.Dict: "A dictionary literal",
    nodes.Slice: "A slice",
}
_ALLOWED: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.Const,
    nodes.Tuple,
    nodes.List,
    nodes.Keyword,
    nodes.CondExpr,
    nodes.Concat,
    nodes.Compare,
    nodes.Operand,
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Mod,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
)


class _Checker:
    """Walks a parsed template, refusing what is not allowed and noting the fields it reads."""

    def __init__(self, available: _Available) -> None:
        self.available = available
        self.references: dict[str, None] = {}

    def visit(self, node: nodes.Node, scope: frozenset[str]) -> None:
        if isinstance(node, nodes.For):
            self._visit_for(node, scope)
            return
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            self._visit_reference(node, scope)
            return
        if isinstance(node, nodes.Filter):
            self._check_name(node.name, FILTERS, "filter", node.lineno)
        elif isinstance(node, nodes.Test):
            self._check_name(node.name, TESTS, "test", node.lineno)
        elif not isinstance(node, _ALLOWED):
            construct = _REFUSED.get(type(node), f"'{type(node).__name__}'")
            raise TemplateError(f"{construct} is not allowed in a template.", line=node.lineno)
        for child in node.iter_child_nodes():
            self.visit(child, scope)

    def _visit_for(self, loop: nodes.For, scope: frozenset[str]) -> None:
        if loop.recursive:
            raise TemplateError("Recursive loops are not allowed.", line=loop.lineno)
        self.visit(loop.iter, scope)
        inner = scope | _target_names(loop.target) | {"loop"}
        for node in [*([loop.test] if loop.test else []), *loop.body]:
            self.visit(node, inner)
        for node in loop.else_:
            self.visit(node, scope)

    def _visit_reference(self, node: nodes.Expr, scope: frozenset[str]) -> None:
        segments: list[str | int] = []
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            segments.insert(0, _segment(node))
            node = node.node
        names = [segment for segment in segments if isinstance(segment, str)]
        if isinstance(node, nodes.Name):
            names.append(node.name)
        if any(name.startswith("_") for name in names):
            raise TemplateError("Names starting with '_' are not allowed.", line=node.lineno)
        if not isinstance(node, nodes.Name):
            raise TemplateError("Only fields can have attributes or items.", line=node.lineno)
        if node.name in scope:
            return
        path = _path(node.name, segments)
        if not self.available.covers(path):
            raise TemplateError(self.available.unknown(path), line=node.lineno)
        self.references[path] = None

    @staticmethod
    def _check_name(name: str, allowed: frozenset[str], kind: str, line: int) -> None:
        if name not in allowed:
            choices = ", ".join(sorted(allowed))
            raise TemplateError(f"Unknown {kind} '{name}'; use one of: {choices}.", line=line)


def _segment(node: nodes.Getattr | nodes.Getitem) -> str | int:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and type(node.arg.value) in (str, int):
        value: str | int = node.arg.value
        return value
    raise TemplateError(
        "Brackets take a fixed name or position, e.g. event['order-id'] or items[0].",
        line=node.lineno,
    )


def _path(root: str, segments: list[str | int]) -> str:
    """The field a reference reads: positions (`[0]`) pick within its value, not a new field."""
    names = [root]
    for segment in segments:
        if isinstance(segment, int):
            break
        names.append(segment)
    return ".".join(names)


def _target_names(target: nodes.Node) -> frozenset[str]:
    if isinstance(target, nodes.Name):
        return frozenset({target.name})
    return frozenset(name.name for name in target.find_all(nodes.Name))


@dataclass(frozen=True)
class _Record(Mapping[str, object]):
    """A mapping in the context that knows its path, so a missing field is named in full."""

    path: str
    data: Mapping[str, object]

    def __getitem__(self, key: str) -> object:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _path_of(value: object) -> str | None:
    if isinstance(value, _Record):
        return value.path
    if isinstance(value, Undefined):
        return value._undefined_name
    return None


class _MessageSandbox(SandboxedEnvironment):
    """Fields are read as plain data: mapping keys, list positions and the loop's counters."""

    intercepted_binops = frozenset({"*", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, LoopContext):
            if attribute in _LOOP_ATTRIBUTES:
                return getattr(obj, attribute)
            return self._missing(f"loop.{attribute}")
        parent = _path_of(obj)
        path = f"{parent}.{attribute}" if parent else attribute
        value = obj.get(attribute) if isinstance(obj, Mapping) else None
        if value is None:
            return self._missing(path)
        return _Record(path, value) if isinstance(value, Mapping) else value

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str):
            return self.getattr(obj, argument)
        within = isinstance(obj, str | list | tuple) and isinstance(argument, int)
        if within and -len(obj) <= argument < len(obj):
            return obj[argument]
        return self._missing(f"{_path_of(obj) or 'value'}[{argument}]")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise TemplateError("Formatting with '%' is not allowed; use filters.")
        if operator == "*":
            _check_repetition(left, right)
            _check_repetition(right, left)
        return super().call_binop(context, operator, left, right)

    def _missing(self, path: str) -> Undefined:
        return self.undefined(hint=f"'{path}' has no value.", name=path)


def _check_repetition(sequence: object, times: object) -> None:
    if not (isinstance(sequence, str | list | tuple) and isinstance(times, int)):
        return
    if len(sequence) * times > _RAW_OUTPUT_LIMIT:
        raise TemplateError(_too_long(f"over {_RAW_OUTPUT_LIMIT}"))


def _replace(value: object, old: object, new: object, count: int | None = None) -> str:
    """`str.replace`, refusing a result too long to send."""
    text, old, new = str(value), str(old), str(new)
    found = text.count(old) if count is None else min(text.count(old), max(count, 0))
    if len(text) + found * (len(new) - len(old)) > _RAW_OUTPUT_LIMIT:
        raise TemplateError(_too_long(f"over {_RAW_OUTPUT_LIMIT}"))
    return text.replace(old, new, -1 if count is None else found)


def _date(value: object, format: str = "%Y-%m-%d", tz: str | None = None) -> str:
    """A date and time (or an ISO-8601 string) formatted with strftime, in `tz` if it has one."""
    moment = value if isinstance(value, date) else _parse_moment(str(value))
    if tz is not None and isinstance(moment, datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(_zone(tz))
    return moment.strftime(format)


def _parse_moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise TemplateError(f"'{text[:40]}' is not an ISO-8601 date and time.") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TemplateError(f"'{name[:40]}' is not a time zone.") from None


def _sandbox() -> _MessageSandbox:
    sandbox = _MessageSandbox(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )
    sandbox.globals.clear()  # no range(), cycler, lipsum...: a template reads only its fields
    builtin = sandbox.filters
    sandbox.filters = {name: builtin[name] for name in FILTERS - {"replace", "date"}}
    sandbox.filters |= {"replace": _replace, "date": _date}
    sandbox.tests = {name: sandbox.tests[name] for name in TESTS}
    sandbox.policies["truncate.leeway"] = 0  # truncate(20) means 20, not up to 25
    return sandbox


_SANDBOX = _sandbox()
