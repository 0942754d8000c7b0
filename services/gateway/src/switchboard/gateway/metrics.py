"""The gateway's business counters (no addresses or bodies in labels)."""

from functools import cache

from prometheus_client import Counter

INBOUND = Counter("switchboard_inbound_messages", "Inbound messages taken.", ["channel", "outcome"])
OUTBOUND = Counter(
    "switchboard_outbound_messages",
    "Outbound sends by final dispatcher outcome.",
    ["channel", "provider", "outcome"],
)
WEBHOOK_SIGNATURE_FAILURES = Counter(
    "switchboard_webhook_signature_failures", "Webhooks refused for a bad signature.", ["provider"]
)


@cache
def inbound(channel: str, outcome: str) -> Counter:
    """The inbound counter's child for one label set (looked up once, not per webhook)."""
    return INBOUND.labels(channel, outcome)
