"""Local fakes of Anthropic's Messages API and OpenAI's Chat Completions and Moderations APIs,
for tests.

They check the API key the way each service does, record every request body (in `requests`, in
arrival order, whatever the endpoint), and answer in each API's JSON shapes (usage included).

What a chat request is answered with, in this order:

- `turns`, a queue: each entry answers one request. A string is a text answer; a list of
  `(tool name, arguments)` is tool calls, in the API's own shape (Anthropic: `tool_use` blocks
  with ids `toolu_<hex>` and `stop_reason: "tool_use"`; OpenAI: `message.tool_calls` with ids
  `call_<hex>`, JSON-string `arguments`, `content: null` and `finish_reason: "tool_calls"`).
  OpenAI's arguments may be given as a raw string, sent verbatim (to test malformed JSON);
  Anthropic's API always answers an object, so a string there must be a JSON object;
- else `respond(body)`, when set: the same choice, made from the request body as received;
- else `reply`, a fixed text.

A failure (below) is answered before any of these, and does not use up a turn. The fakes can
be told to misbehave:

- `fail_with` is a queue of `(status, error type)` answered before any success, in each API's
  error format;
- `rate_limit(times)` queues rate-limit refusals as the real APIs send them: 429, the API's own
  error type, and a `retry-after` header of `retry_after` seconds (every 429 carries it, as the
  real APIs' do, so a client that honours it can be tested);
- `delay` makes every request wait that many seconds before it is answered (a slow model), so
  client timeouts can be tested over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ErrorResponse = Callable[[int, str, str], JSONResponse]
ToolCalls = Sequence[tuple[str, Mapping[str, Any] | str]]
"""Tool calls to answer with: each tool's name and its arguments (or their raw text)."""
Turn = str | ToolCalls
"""One answer: text, or tool calls."""

# Every category OpenAI's moderation models answer, in the API's spelling.
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass
class _Fake:
    api_key: str
    reply: str = "Hello from the fake model."
    fail_with: list[tuple[int, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    retry_after: int = 1
    """Seconds every 429 tells the client to wait (its `retry-after` header)."""
    delay: float = 0.0
    """Seconds every request waits before it is answered."""
    turns: list[Turn] = field(default_factory=list)
    """Answers to the next chat requests, one each, in order (text, or tool calls)."""
    respond: Callable[[dict[str, Any]], Turn] | None = None
    """The answer to a chat request when `turns` is empty, from its body; else `reply`."""

    # The error types this API answers a bad key and a rate limit with, and the 401's message.
    auth_error: ClassVar[tuple[str, str]] = ("authentication_error", "invalid API key")
    rate_limit_error: ClassVar[str] = "rate_limit_error"

    def rate_limit(self, times: int = 1) -> None:
        """Refuse the next `times` requests as the real API does when over its rate limit."""
        self.fail_with.extend([(429, self.rate_limit_error)] * times)

    def _tokens(self, text: str) -> int:
        return max(1, len(text.split()))

    def _answer(self, body: dict[str, Any]) -> Turn:
        if self.turns:
            return self.turns.pop(0)
        if self.respond is not None:
            return self.respond(body)
        return self.reply

    def _output_tokens(self, answer: Turn) -> int:
        if isinstance(answer, str):
            return self._tokens(answer)
        return sum(self._tokens(f"{name} {_arguments_text(args)}") for name, args in answer)

    async def _refusal(self, authorized: bool, error: ErrorResponse) -> JSONResponse | None:
        """What a request gets instead of an answer, if anything: after the delay, a bad key's
        401, else the next queued failure."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if not authorized:
            return error(401, *self.auth_error)
        if not self.fail_with:
            return None
        status, kind = self.fail_with.pop(0)
        response = error(status, kind, "the fake was told to fail")
        if status == 429:
            response.headers["retry-after"] = str(self.retry_after)
        return response


@dataclass
class FakeAnthropic(_Fake):
    def app(self) -> FastAPI:
        app = FastAPI(title="fake anthropic")

        @app.post("/v1/messages")
        async def messages(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            # Older SDKs send `x-api-key`, newer ones `Authorization: Bearer`.
            keys = {request.headers.get("x-api-key"), request.headers.get("authorization")}
            authorized = bool(keys & {self.api_key, f"Bearer {self.api_key}"})
            if refusal := await self._refusal(authorized, _anthropic_error):
                return refusal
            prompt = " ".join(str(m["content"]) for m in body["messages"])
            answer = self._answer(body)
            content: list[dict[str, Any]]
            if isinstance(answer, str):
                content = [{"type": "text", "text": answer}]
            else:
                content = [
                    {
                        "type": "tool_use",
                        "id": "toolu_" + secrets.token_hex(12),
                        "name": name,
                        "input": json.loads(args) if isinstance(args, str) else dict(args),
                    }
                    for name, args in answer
                ]
            return JSONResponse(
                {
                    "id": "msg_" + secrets.token_hex(12),
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": content,
                    "stop_reason": "end_turn" if isinstance(answer, str) else "tool_use",
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": self._tokens(str(body.get("system", "")) + " " + prompt),
                        "output_tokens": self._output_tokens(answer),
                    },
                }
            )

        return app


@dataclass
class FakeOpenAI(_Fake):
    moderation_triggers: dict[str, str] = field(default_factory=dict)
    """Words (whole, any case) the moderation endpoint flags, each with the category it flags,
    e.g. `{"hopeless": "self-harm/intent"}`; with none, it flags nothing."""

    auth_error: ClassVar[tuple[str, str]] = ("invalid_api_key", "Incorrect API key provided.")
    rate_limit_error: ClassVar[str] = "rate_limit_exceeded"

    def app(self) -> FastAPI:
        app = FastAPI(title="fake openai")

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            if refusal := await self._refusal(self._authorized(request), _openai_error):
                return refusal
            prompt = " ".join(str(m.get("content")) for m in body["messages"])
            answer = self._answer(body)
            message: dict[str, Any]
            if isinstance(answer, str):
                message = {"role": "assistant", "content": answer}
            else:
                calls = [
                    {
                        "id": "call_" + secrets.token_hex(12),
                        "type": "function",
                        "function": {"name": name, "arguments": _arguments_text(args)},
                    }
                    for name, args in answer
                ]
                message = {"role": "assistant", "content": None, "tool_calls": calls}
            output_tokens = self._output_tokens(answer)
            return JSONResponse(
                {
                    "id": "chatcmpl-" + secrets.token_hex(12),
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "finish_reason": "stop" if isinstance(answer, str) else "tool_calls",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": self._tokens(prompt),
                        "completion_tokens": output_tokens,
                        "total_tokens": self._tokens(prompt) + output_tokens,
                    },
                }
            )

        @app.post("/v1/moderations")
        async def moderations(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            if refusal := await self._refusal(self._authorized(request), _openai_error):
                return refusal
            return JSONResponse(
                {
                    "id": "modr-" + secrets.token_hex(12),
                    "model": body.get("model", "omni-moderation-latest"),
                    "results": [self._moderate(text) for text in _moderation_inputs(body)],
                }
            )

        return app

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    def _moderate(self, text: str) -> dict[str, Any]:
        """One result as OpenAI shapes it; a flagged subcategory flags its parent too
        (`self-harm/intent` flags `self-harm`), as the real models' answers do."""
        flagged: set[str] = set()
        for word, category in self.moderation_triggers.items():
            if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE):
                flagged |= {category, category.split("/")[0]}
        categories = sorted({*MODERATION_CATEGORIES, *flagged})
        return {
            "flagged": bool(flagged),
            "categories": {c: c in flagged for c in categories},
            "category_scores": {c: 0.97 if c in flagged else 0.0001 for c in categories},
            "category_applied_input_types": {c: ["text"] for c in categories},
        }


def _arguments_text(arguments: Mapping[str, Any] | str) -> str:
    """Arguments as the JSON text OpenAI sends them in; raw text as it was given."""
    return arguments if isinstance(arguments, str) else json.dumps(dict(arguments))


def _moderation_inputs(body: dict[str, Any]) -> list[str]:
    """The texts of a moderation request: one string, a list of them, or multi-modal parts
    (whose text parts are moderated together, as one input)."""
    given = body["input"]
    if isinstance(given, str):
        return [given]
    if all(isinstance(item, str) for item in given):
        return [str(item) for item in given]
    return [" ".join(str(part["text"]) for part in given if part.get("type") == "text")]


def _anthropic_error(status: int, kind: str, message: str) -> JSONResponse:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status)


def _openai_error(status: int, code: str, message: str) -> JSONResponse:
    body = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)
