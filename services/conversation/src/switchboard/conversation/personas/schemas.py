"""HTTP models of the personas API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
"""Lowercase letters, digits and hyphens, at most 64, not starting with a hyphen: a slug is
typed by contacts (`CONFIG PERSONA <slug>`) and read in URLs, so it stays plain."""

PersonaSource = Literal["library", "tenant"]


def storable(value: str) -> str:
    """PostgreSQL text and JSONB refuse NUL characters: a 422 beats a database error (a 500)."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "Text must not contain NUL characters.")
    return value


def not_blank(value: str) -> str:
    """Whitespace only is as empty as nothing: a persona must say something."""
    if not value.strip():
        raise PydanticCustomError("blank", "Must not be blank.")
    return value


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Storable = AfterValidator(storable)
NotBlank = AfterValidator(not_blank)


class PersonaWrite(BaseModel):
    """A tenant's own persona; under a library slug it replaces that template for the tenant."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(max_length=100), NotBlank, Storable]
    description: Annotated[str, StringConstraints(max_length=1000), Storable] = Field(
        default="", description="What the persona is for, shown to operators and contacts."
    )
    instructions: Annotated[str, StringConstraints(max_length=4000), NotBlank, Storable] = Field(
        description="How the assistant speaks and behaves as this persona (part of its prompt)."
    )


class PersonaRead(BaseModel):
    slug: str
    name: str
    description: str
    instructions: str
    source: PersonaSource = Field(
        description="`library`: the platform's template; `tenant`: the tenant's own."
    )
    overrides_library: bool = Field(
        description="A tenant persona under a library slug: deleting it brings the template back."
    )
    updated_at: datetime | None = Field(description="When the tenant last wrote it (tenant only).")
