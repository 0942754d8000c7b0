"""What an operator writes instead of a template: the message in plain language, for the agent.

A rule or a campaign's `send` step carries either a `template` or a `compose` (never both). With
`compose`, no message is rendered when the send is planned; the agent is asked instead (see
`agent/runner.py`), and what it decides is checked before anything is scheduled.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool

MAX_MESSAGE_LENGTH = 1600
"""The longest message an operator may allow: ten SMS segments, WhatsApp's own limit."""


class Compose(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instructions: str = Field(
        min_length=1,
        max_length=4000,
        description="Who to text and what to say, in plain language. The agent reads it with "
        "the contact, their recent messages and the event, and may send, skip or delay.",
        examples=[
            "Text customers whose order is 3 days late and has no tracking number; apologise "
            "and give a delivery date."
        ],
    )
    max_length: int = Field(
        default=160,
        ge=20,
        le=MAX_MESSAGE_LENGTH,
        description="The longest message the agent may send, in characters (160: one SMS "
        "segment). A longer one is refused, never cut.",
    )
    require_approval: StrictBool = Field(
        default=False,
        description="Queue each message the agent decides to send for an operator to approve "
        "(or edit) before it is scheduled.",
    )
