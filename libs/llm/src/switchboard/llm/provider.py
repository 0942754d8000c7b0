"""The seam between Switchboard and a language model: one request in, one completion out.

A request may offer the model tools (`Tool`: a name, what it does, and a JSON schema of its
arguments). The model then answers with tool calls (`Completion.tool_calls`) instead of, or
beside, text; the caller runs them and sends their results back as the next turn
(`ChatMessage.tool_results`), keeping the model's own turn with its calls
(`ChatMessage.tool_calls`). `tool_choice` says whether the model may answer in text ("auto"),
must call some tool ("any"), or must call one tool by name: the way to get structured output
(a tool whose arguments are the answer) from every provider alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from switchboard.contracts import LlmPurpose

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Tool:
    """Something the model may call: `parameters` is a JSON schema of an object."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    offline_arguments: Mapping[str, Any] = field(default_factory=dict)
    """What the offline provider (no model) calls this tool with, when it calls it."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a tool. `arguments` is the object it gave, or its raw text when that
    was not a JSON object (the caller says so in the result, and the model may try again)."""

    id: str
    name: str
    arguments: Mapping[str, Any] | str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What running a tool call gave, as text for the model; `is_error` when it failed."""

    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of the conversation as the model sees it: text, and in an assistant turn the
    tools it called, or in a user turn the results of those calls."""

    role: Role
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What the assistant asks of a model: its instructions and the conversation so far."""

    instructions: str
    messages: tuple[ChatMessage, ...]
    max_output_tokens: int = 300
    purpose: LlmPurpose = "chat"
    tools: tuple[Tool, ...] = ()
    tool_choice: str = "auto"
    """"auto" (text or tools), "any" (some tool), or a tool's name (that tool)."""


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
    tool_calls: tuple[ToolCall, ...] = ()


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
