"""HTTP models of the assistant settings, model providers and platform AI switch APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from switchboard.contracts import LlmPurpose
from switchboard.conversation.personas.schemas import SLUG_PATTERN, Storable
from switchboard.llm import ProviderKind

Phrase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable
]
ProviderNameRef = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _no_repeats(names: list[str]) -> list[str]:
    """A provider twice in one route would only be tried twice in a row: surely a mistake."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"A route names each provider once; repeated: {', '.join(repeated)}.")
    return names


Route = Annotated[list[ProviderNameRef], Field(min_length=1), AfterValidator(_no_repeats)]


class AssistantSettingsRead(BaseModel):
    enabled: bool = Field(description="The tenant's AI switch: false and the assistant is silent.")
    platform_enabled: bool = Field(
        description="The platform's AI switch (set by the platform admin): false overrides "
        "`enabled` for every tenant."
    )
    default_persona: str = Field(description="The persona slug used unless a contact chose one.")
    assistant_name: str | None = Field(description="What the assistant calls itself.")
    business_facts: str = Field(description="What the assistant may state as fact.")
    sms_max_segments: int = Field(description="The longest SMS reply, in segments.")
    contact_messages_per_minute: int = Field(
        description="Messages per contact per minute the assistant answers; more are not."
    )
    handoff_phrases: list[str] = Field(description="Words that hand a conversation to a person.")
    blocked_phrases: list[str] = Field(description="Words the assistant never answers or says.")
    routes: dict[LlmPurpose, list[str]] = Field(
        description="The tenant's model route per purpose (provider names, tried in order); a "
        "purpose missing here uses the platform's route."
    )
    updated_at: datetime | None = Field(
        description="Null until the tenant first changes its settings."
    )


class AssistantSettingsUpdate(BaseModel):
    """Only the fields sent change. Unknown fields are refused, so a misspelt switch (say,
    `enable`) is an error rather than a silent no-op."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = Field(
        default=True, description='JSON true or false only: "off" or 0 is refused, not guessed.'
    )
    default_persona: Annotated[str, StringConstraints(pattern=SLUG_PATTERN)] = Field(
        default="default", description="Must be one of the tenant's personas (GET /v1/personas)."
    )
    assistant_name: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Storable
        ]
        | None
    ) = Field(default=None, description="Null: the assistant uses no name of its own.")
    business_facts: Annotated[str, StringConstraints(max_length=8000), Storable] = ""
    sms_max_segments: int = Field(default=2, ge=1, le=10)
    contact_messages_per_minute: int = Field(default=10, ge=1, le=600)
    handoff_phrases: list[Phrase] = Field(default_factory=list, max_length=100)
    blocked_phrases: list[Phrase] = Field(default_factory=list, max_length=100)
    routes: dict[LlmPurpose, Route] = Field(
        default_factory=dict,
        description="Replaces the tenant's routes as a whole (`{}`: the platform's for every "
        "purpose). Names come from GET /v1/assistant/providers.",
    )


class ProviderRead(BaseModel):
    """A configured model provider; its credentials are never shown."""

    name: str = Field(description="What routes call it.")
    provider: ProviderKind
    model: str


class PlatformAssistantRead(BaseModel):
    enabled: bool = Field(description="False: no tenant's assistant answers.")
    reason: str | None
    updated_at: datetime | None = Field(description="Null if the switch was never thrown.")


class PlatformAssistantWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool
    reason: Annotated[str, StringConstraints(max_length=500), Storable] | None = Field(
        default=None, description="Why, for the other operators (kept with the switch)."
    )
