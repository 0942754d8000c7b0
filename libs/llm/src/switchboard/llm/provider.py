"""The seam between the assistant and a language model: one request in, one completion out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from switchboard.contracts import LlmPurpose

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of the conversation as the model sees it."""

    role: Role
    text: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What the assistant asks of a model: its instructions and the conversation so far."""

    instructions: str
    messages: tuple[ChatMessage, ...]
    max_output_tokens: int = 300
    purpose: LlmPurpose = "chat"


@dataclass(frozen=True, slots=True)
class Completion:
    """The model's reply and what it cost in tokens; `model` is a key of the price table."""

    text: str
    input_tokens: int
    output_tokens: int
    provider: str
    model: str
    fallback: tuple[str, ...] = ()
    """Why the providers tried before this one did not answer (empty: the first did)."""


class LLMProvider(Protocol):
    """A language model behind one provider's API (or none, for the offline provider)."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    async def complete(self, request: CompletionRequest) -> Completion: ...


class Named:
    """What usage, prices and logs know a provider by: its name and its model."""

    def __init__(self, name: str, model: str) -> None:
        self._name = name
        self._model = model

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model
