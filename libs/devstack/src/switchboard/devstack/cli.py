"""`switchboard`: run the platform locally, text the demo number, read the sandbox outbox."""

from __future__ import annotations

import argparse
import secrets
import sys
import time

import httpx
from twilio.request_validator import RequestValidator

from switchboard.devstack.processes import DEFAULT_PORTS
from switchboard.devstack.state import DEMO_ACCOUNT_SID, DEMO_NUMBER, DevState

GATEWAY = f"http://127.0.0.1:{DEFAULT_PORTS['gateway'][0]}"
WEBHOOK_PATH = "/v1/webhooks/twilio/messages"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole platform on embedded defaults")
    sms = commands.add_parser(
        "sms", help="text the demo number as a contact would (signed webhook)"
    )
    sms.add_argument("body")
    sms.add_argument("--from", dest="sender", default="+15557654321", help="the contact's number")
    sms.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the reply")
    outbox = commands.add_parser("outbox", help="what the sandbox transport kept")
    outbox.add_argument("--limit", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "run":
        from switchboard.devstack.launcher import run

        run()
    elif args.command == "sms":
        sys.exit(send_sms(args.body, args.sender, args.wait))
    else:
        show_outbox(args.limit)


def send_sms(body: str, sender: str, wait: float) -> int:
    state = DevState.load()
    form = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": DEMO_ACCOUNT_SID,
        "From": sender,
        "To": DEMO_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(state["DEMO_TWILIO_AUTH_TOKEN"]).compute_signature(
        GATEWAY + WEBHOOK_PATH, form
    )
    # What the sandbox held before: a keyword's confirmation can be there before the webhook's
    # answer is, so the snapshot is taken first.
    before = {m["message_id"] for m in _sandbox(state, to=sender, limit=50)}
    response = httpx.post(
        GATEWAY + WEBHOOK_PATH, data=form, headers={"X-Twilio-Signature": signature}
    )
    if response.status_code != 200:
        print(f"gateway answered {response.status_code}: {response.text}")
        return 1
    print(f"you ({sender}) → {DEMO_NUMBER}: {body}")
    reply = _wait_for_reply(state, sender, before, wait)
    if reply is None:
        print(f"no reply within {wait:.0f}s (see .switchboard/logs/)")
        return 1
    print(f"assistant → you: {reply}")
    return 0


def _wait_for_reply(state: DevState, to: str, before: set[str], wait: float) -> str | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for message in _sandbox(state, to=to, limit=50):
            if message["message_id"] not in before:
                return str(message["body"])
        time.sleep(0.2)
    return None


def show_outbox(limit: int) -> None:
    state = DevState.load()
    messages = _sandbox(state, to=None, limit=limit)
    print(f"sandbox outbox (kept, not sent) — {len(messages)} most recent:")
    for m in reversed(messages):
        print(f"  {m['created_at'][:19]}  {m['from_address']} → {m['to_address']}: {m['body']}")


def _sandbox(state: DevState, *, to: str | None, limit: int) -> list[dict[str, str]]:
    key = state.get("DEMO_API_KEY")
    if key is None:
        raise SystemExit("No demo tenant yet: start the platform with `make run` first.")
    params: dict[str, str | int] = {"limit": limit}
    if to:
        params["to"] = to
    response = httpx.get(
        GATEWAY + "/v1/sandbox/messages", params=params, headers={"Authorization": f"Bearer {key}"}
    )
    response.raise_for_status()
    messages: list[dict[str, str]] = response.json()
    return messages
