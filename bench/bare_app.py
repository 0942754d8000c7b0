"""The baseline: a bare FastAPI endpoint on the webhook's path that answers a constant.

Served exactly as `python -m switchboard.<svc> http` serves a service (uvicorn, uvloop, httptools,
no access log), so the difference to the gateway is the gateway's own work.
Run: `python bench/bare_app.py <port> <workers>`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

app = FastAPI(title="bench baseline")


@app.post("/v1/webhooks/twilio/messages")
async def constant() -> Response:
    """Answer like the gateway does, without reading, verifying or storing anything."""
    return Response(EMPTY_TWIML, media_type="text/xml")


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ok"}


def main(port: int, workers: int) -> None:
    uvicorn.run(
        "bare_app:app",
        app_dir=str(Path(__file__).resolve().parent),
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
