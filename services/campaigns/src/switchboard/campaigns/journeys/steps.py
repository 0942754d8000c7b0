"""A campaign's steps, as operators write them and the journey runner follows them.

Steps run in order; `branch` and the outcomes of `wait_for_reply` may jump to a step by its `id`.

- `send`: a message from a template (checked when saved, like a rule's), or written by the agent
  from plain-language `compose` instructions (the enrollment waits for its decision), held out
  of quiet hours by the scheduler like any other send;
- `wait`: a delay (`seconds`), or until a time of day on the contact's clock (`until`, on some
  `weekdays` if given); a wait after a send counts from when the send is due, not when it was
  planned, so quiet hours never eat into it;
- `branch`: go to `goto` when `condition` holds (over the enrolling event and the contact),
  else on to the next step;
- `wait_for_reply`: wait up to `timeout_seconds` for the contact to answer (counted like a wait),
  then go on to `on_reply` or `on_timeout` (the next step when not given);
- `exit`: leave the campaign here.

A campaign is refused when saved if a jump names no step, or if steps can loop back without
waiting (`wait` or `wait_for_reply`), which would spin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError

from switchboard.campaigns.agent.compose import Compose
from switchboard.campaigns.rules.compiled import compile_rule_template
from switchboard.campaigns.rules.conditions import Condition
from switchboard.campaigns.rules.schemas import MAX_DELAY_SECONDS
from switchboard.campaigns.rules.templates import TemplateError
from switchboard.campaigns.timing import ClockTime, Weekday

MAX_STEPS = 50

StepId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Delay = Annotated[int, Field(ge=1, le=MAX_DELAY_SECONDS)]

_STEP = ConfigDict(extra="forbid", frozen=True)


class SendStep(BaseModel):
    model_config = _STEP

    type: Literal["send"] = "send"
    id: StepId | None = None
    template: str | None = Field(default=None, min_length=1, max_length=4000)
    compose: Compose | None = None

    @model_validator(mode="after")
    def _one_message(self) -> SendStep:
        if (self.template is None) == (self.compose is None):
            raise PydanticCustomError(
                "send", "A send step gives either a `template` or `compose` instructions."
            )
        return self


class WaitStep(BaseModel):
    model_config = _STEP

    type: Literal["wait"] = "wait"
    id: StepId | None = None
    seconds: Delay | None = None
    until: ClockTime | None = Field(default=None, description="A time of day, e.g. '10:00'.")
    weekdays: list[Weekday] | None = Field(
        default=None, min_length=1, description="With `until`: only on these days."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> WaitStep:
        if (self.seconds is None) == (self.until is None):
            raise PydanticCustomError(
                "wait", "A wait gives either `seconds` or `until` (a time of day), not both."
            )
        if self.weekdays is not None and self.until is None:
            raise PydanticCustomError("wait", "`weekdays` goes with `until`.")
        return self


class BranchStep(BaseModel):
    model_config = _STEP

    type: Literal["branch"] = "branch"
    id: StepId | None = None
    condition: Condition
    goto: StepId = Field(description="The step to go to when the condition holds.")


class WaitForReplyStep(BaseModel):
    model_config = _STEP

    type: Literal["wait_for_reply"] = "wait_for_reply"
    id: StepId | None = None
    timeout_seconds: Delay
    on_reply: StepId | None = None
    on_timeout: StepId | None = None


class ExitStep(BaseModel):
    model_config = _STEP

    type: Literal["exit"] = "exit"
    id: StepId | None = None


Step = Annotated[
    SendStep | WaitStep | BranchStep | WaitForReplyStep | ExitStep, Field(discriminator="type")
]
_STEPS: TypeAdapter[list[Step]] = TypeAdapter(list[Step])

_JUMPS = ("goto", "on_reply", "on_timeout")
_WAITS = ("wait", "wait_for_reply")


def parse_steps(raw: object) -> list[Step]:
    """Steps from their stored JSON form (validated when saved)."""
    return _STEPS.validate_python(raw)


def check_steps(steps: Sequence[Step], event_attributes: Sequence[str]) -> None:
    """Refuse steps that cannot run: unknown jump targets, loops without a wait, templates that
    read fields they may not. Raises `ValueError` (a 422 inside a pydantic validator)."""
    if not 1 <= len(steps) <= MAX_STEPS:
        raise ValueError(f"A campaign has 1 to {MAX_STEPS} steps.")
    ids = [step.id for step in steps if step.id is not None]
    if len(ids) != len(set(ids)):
        raise ValueError("Step ids must be unique.")
    index = {step.id: position for position, step in enumerate(steps) if step.id is not None}
    for position, step in enumerate(steps, start=1):
        for target in _targets(step):
            if target not in index:
                raise ValueError(f"Step {position} jumps to '{target}', which no step is called.")
        if isinstance(step, SendStep) and step.template is not None:
            try:
                compile_rule_template(step.template, event_attributes)
            except TemplateError as error:
                raise ValueError(f"Step {position}: {error}") from None
    _refuse_spinning_loops(steps, index)


def jump(steps: Sequence[Step], target: str | None, default: int) -> int:
    """The position of step `target`, or `default` when there is none."""
    if target is None:
        return default
    for position, step in enumerate(steps):
        if step.id == target:
            return position
    return default  # validated when saved: not reached


def _targets(step: Step) -> list[str]:
    return [target for name in _JUMPS if (target := getattr(step, name, None)) is not None]


def _refuse_spinning_loops(steps: Sequence[Step], index: dict[str, int]) -> None:
    """A path from a step back to itself that passes no wait would run forever at once."""
    moves: dict[int, list[int]] = {}
    for position, step in enumerate(steps):
        if step.type in _WAITS or step.type == "exit":
            moves[position] = []  # the runner stops here (or leaves)
            continue
        following = [position + 1] if position + 1 < len(steps) else []
        moves[position] = following + [index[t] for t in _targets(step)]
    state: dict[int, Literal["visiting", "done"]] = {}

    def visit(position: int) -> None:
        state[position] = "visiting"
        for successor in moves[position]:
            if state.get(successor) == "visiting":
                raise ValueError(
                    f"Steps {successor + 1} to {position + 1} loop without a wait: add a "
                    "`wait` or `wait_for_reply` step to the loop."
                )
            if successor not in state:
                visit(successor)
        state[position] = "done"

    for position in range(len(steps)):
        if position not in state:
            visit(position)


def exit_reply_matches(phrases: Sequence[str], body: str) -> str | None:
    """The first exit phrase `body` contains as whole words (any case), or None."""
    text = " ".join(body.casefold().split())
    for phrase in phrases:
        words = " ".join(phrase.casefold().split())
        if words and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text):
            return phrase
    return None
