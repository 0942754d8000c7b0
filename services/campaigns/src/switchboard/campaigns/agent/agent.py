"""The campaign agent: one contact, one decision, through the platform's model providers.

The model reads the operator's instructions and the contact's situation, may call the read-only
tools of `agent/situation.py` (a round each), and answers by calling `decide` with a SEND, SKIP
or DELAY, its reasoning and its confidence. An answer that does not validate (a missing message,
one over the length limit) is explained to the model, which tries again; the last round forces
`decide`. A model that gives no valid decision within `max_rounds` gives an `Outcome` with the
error, and every call it made (its tokens, for usage and cost) either way.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from switchboard.campaigns.agent.compose import Compose
from switchboard.campaigns.agent.decision import AgentDecision, decide_tool, parse_decision
from switchboard.campaigns.agent.situation import TOOLS, Situation, run_tool
from switchboard.llm import (
    ChatMessage,
    Completion,
    CompletionRequest,
    LLMProvider,
    ToolResult,
)

OFFLINE_LABEL = "[offline agent]"

_INSTRUCTIONS = """\
You are the campaign agent of a business that texts its customers over SMS and WhatsApp. For
one contact at a time you decide whether to send the message the operator describes, and write
it. The operator's instructions:

{instructions}

Decide:
- SEND, with the message, when the instructions apply to this contact now. The message is plain
  text of at most {max_length} characters, written to this contact, with no placeholders and no
  facts that are not in what you were given.
- SKIP when they do not apply (the contact does not match, or a message would be unwelcome, for
  example because they just complained or already got the same message).
- DELAY, with the minutes to wait, when they may apply later; you will be asked again then.
Quiet hours, frequency caps and consent are enforced after you decide. The contact's situation
is below; the tools show more. Always answer by calling `decide`, with your reasoning for an
operator auditing it and your confidence from 0 to 1."""


@dataclass
class Outcome:
    decision: AgentDecision | None = None
    error: str | None = None
    calls: list[Completion] = field(default_factory=list)
    """Every model call, in order (each is billed)."""
    trace: list[dict[str, Any]] = field(default_factory=list)
    """The tools the model called, with their arguments and whether they failed."""
    latency_ms: int = 0


class Agent:
    def __init__(
        self, model: LLMProvider, *, max_rounds: int = 4, max_output_tokens: int = 800
    ) -> None:
        if max_rounds < 1:
            raise ValueError("The agent needs at least one round.")
        self.model = model
        self.max_rounds = max_rounds
        self.max_output_tokens = max_output_tokens

    async def decide(self, compose: Compose, known: Situation) -> Outcome:
        """The agent's decision for `known`'s contact; model errors propagate
        (`AllProvidersFailed`), for the caller to retry later."""
        started = perf_counter()
        outcome = Outcome()
        instructions = _INSTRUCTIONS.format(
            instructions=compose.instructions, max_length=compose.max_length
        )
        tools = (*TOOLS, decide_tool(offline_decision(compose)))
        messages = [ChatMessage("user", known.brief())]
        try:
            for round_ in range(self.max_rounds):
                last = round_ == self.max_rounds - 1
                request = CompletionRequest(
                    instructions=instructions,
                    messages=tuple(messages),
                    max_output_tokens=self.max_output_tokens,
                    purpose="composition",
                    tools=tools,
                    tool_choice="decide" if last else "any",
                )
                completion = await self.model.complete(request)
                outcome.calls.append(completion)
                results: list[ToolResult] = []
                for call in completion.tool_calls:
                    arguments = call.arguments
                    entry: dict[str, Any] = {"tool": call.name, "arguments": arguments}
                    if call.name == "decide":
                        try:
                            outcome.decision = parse_decision(arguments, compose.max_length)
                        except ValueError as error:
                            outcome.error = f"invalid decision: {error}"
                            results.append(ToolResult(call.id, f"Refused: {error}", True))
                            entry["error"] = str(error)
                        else:
                            results.append(ToolResult(call.id, "Recorded."))
                    else:
                        result = run_tool(known, call)
                        results.append(result)
                        if result.is_error:
                            entry["error"] = result.content
                    outcome.trace.append(entry)
                if outcome.decision is not None:
                    outcome.error = None
                    return outcome
                if not completion.tool_calls:
                    outcome.error = "the model answered in text instead of calling `decide`"
                    messages += [
                        ChatMessage("assistant", completion.text or "(no answer)"),
                        ChatMessage("user", "Answer by calling `decide`."),
                    ]
                    continue
                messages += [
                    ChatMessage("assistant", completion.text, tool_calls=completion.tool_calls),
                    ChatMessage("user", "", tool_results=tuple(results)),
                ]
            outcome.error = (
                f"no valid decision in {self.max_rounds} rounds ({outcome.error or 'none given'})"
            )
            return outcome
        finally:
            outcome.latency_ms = round((perf_counter() - started) * 1000)


def offline_decision(compose: Compose) -> dict[str, Any]:
    """What the offline provider (no model configured) decides: SEND a clearly labelled message
    that quotes the instructions, cut at a word to fit, so `make run` shows the whole path."""
    room = compose.max_length - len(OFFLINE_LABEL) - 1
    quoted = textwrap.shorten(" ".join(compose.instructions.split()), width=room, placeholder="…")
    return {
        "action": "SEND",
        "message": f"{OFFLINE_LABEL} {quoted}",
        "reasoning": "No AI model is configured: the offline provider sends the instructions as "
        "written, labelled, instead of a composed message.",
        "confidence": 0.0,
    }
