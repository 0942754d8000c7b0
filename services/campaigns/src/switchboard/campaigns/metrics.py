"""The campaigns service's business counters (no addresses, ids or tenant-chosen names)."""

from prometheus_client import Counter

EVENTS_INGESTED = Counter(
    "switchboard_campaigns_events_ingested",
    "Business events posted, by whether they were new or a retry of a stored one.",
    ["outcome"],
)
