"""Local fakes of Anthropic's Messages API and OpenAI's Chat Completions API, for tests.

They check the API key the way each service does, record every request, answer in each API's
JSON shapes (usage included), and can be told to fail first: `fail_with` is a queue of
`(status, error type)` answered before any success, in each API's error format.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class _Fake:
    api_key: str
    reply: str = "Hello from the fake model."
    fail_with: list[tuple[int, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def _tokens(self, text: str) -> int:
        return max(1, len(text.split()))


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
            if not keys & {self.api_key, f"Bearer {self.api_key}"}:
                return _anthropic_error(401, "authentication_error", "invalid API key")
            if self.fail_with:
                status, kind = self.fail_with.pop(0)
                return _anthropic_error(status, kind, "the fake was told to fail")
            prompt = " ".join(str(m["content"]) for m in body["messages"])
            return JSONResponse(
                {
                    "id": "msg_" + secrets.token_hex(12),
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": self.reply}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": self._tokens(str(body.get("system", "")) + " " + prompt),
                        "output_tokens": self._tokens(self.reply),
                    },
                }
            )

        return app


@dataclass
class FakeOpenAI(_Fake):
    def app(self) -> FastAPI:
        app = FastAPI(title="fake openai")

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return _openai_error(401, "invalid_api_key", "Incorrect API key provided.")
            if self.fail_with:
                status, kind = self.fail_with.pop(0)
                return _openai_error(status, kind, "the fake was told to fail")
            prompt = " ".join(str(m["content"]) for m in body["messages"])
            return JSONResponse(
                {
                    "id": "chatcmpl-" + secrets.token_hex(12),
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": self.reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": self._tokens(prompt),
                        "completion_tokens": self._tokens(self.reply),
                        "total_tokens": self._tokens(prompt) + self._tokens(self.reply),
                    },
                }
            )

        return app


def _anthropic_error(status: int, kind: str, message: str) -> JSONResponse:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status)


def _openai_error(status: int, code: str, message: str) -> JSONResponse:
    body = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)
