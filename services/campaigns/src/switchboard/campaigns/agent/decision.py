"""The agent's answer, as validated structured output: SEND, SKIP or DELAY, and why.

The model gives it as the arguments of the `decide` tool (the one way every provider returns
structured output alike); they are validated here, and a refusal is explained to the model so it
may correct itself.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from switchboard.llm import Tool

MAX_DELAY_MINUTES = 7 * 24 * 60
"""The longest DELAY: a week; the agent is asked again then."""

Action = Literal["SEND", "SKIP", "DELAY"]


class AgentDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action = Field(
        description="SEND the message now, SKIP this contact, or DELAY and decide again later."
    )
    message: str | None = Field(
        default=None, description="With SEND: the message, exactly as the contact will read it."
    )
    delay_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DELAY_MINUTES,
        description="With DELAY: how many minutes from now to decide again.",
    )
    reasoning: str = Field(
        min_length=1,
        max_length=2000,
        description="Why, in a few sentences an operator auditing this decision will read.",
    )
    confidence: float = Field(ge=0, le=1, description="How sure you are, from 0 to 1.")

    @model_validator(mode="after")
    def _consistent(self) -> AgentDecision:
        if self.action == "SEND" and not (self.message and self.message.strip()):
            raise ValueError("SEND needs the `message`.")
        if self.action == "DELAY" and self.delay_minutes is None:
            raise ValueError("DELAY needs `delay_minutes`.")
        return self


def decide_tool(offline: dict[str, Any]) -> Tool:
    """The tool the model answers with; `offline` is what the offline provider answers."""
    schema = AgentDecision.model_json_schema()
    schema.pop("title", None)
    return Tool(
        name="decide",
        description="Give your decision for this contact. Call it exactly once, last.",
        parameters=schema,
        offline_arguments=offline,
    )


def parse_decision(arguments: object, max_length: int) -> AgentDecision:
    """The decision in `arguments`, checked; `ValueError` saying what is wrong, for the model."""
    if not isinstance(arguments, dict):
        raise ValueError("The arguments were not a JSON object.")
    try:
        decision = AgentDecision.model_validate(arguments)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'decision'}: {e['msg']}"
            for e in error.errors()
        )
        raise ValueError(problems) from None
    if decision.action == "SEND":
        assert decision.message is not None
        if len(decision.message) > max_length:
            raise ValueError(
                f"The message has {len(decision.message)} characters; the limit is "
                f"{max_length}. Write a shorter one."
            )
    return decision
