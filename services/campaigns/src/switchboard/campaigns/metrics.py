"""The campaigns service's business counters (no addresses, ids or tenant-chosen names)."""

from prometheus_client import Counter, Histogram

EVENTS_INGESTED = Counter(
    "switchboard_campaigns_events_ingested",
    "Business events posted, by whether they were new or a retry of a stored one.",
    ["outcome"],
)
RULE_SENDS = Counter(
    "switchboard_campaigns_rule_sends",
    "Sends rules planned, by what became of them (scheduled, skipped, composing: asked of the "
    "agent), and events that could not qualify (no_contact, lacks_attributes).",
    ["outcome"],
)
SCHEDULED_SENDS = Counter(
    "switchboard_campaigns_scheduled_sends",
    "Due sends the scheduler handled: sent, held (quiet hours), skipped (frequency cap).",
    ["outcome"],
)
JOURNEY_STEPS = Counter(
    "switchboard_campaigns_journey_passes",
    "Enrollments the journey runner moved (advanced), and replies and opt-outs that moved them.",
    ["outcome"],
)
PASS_DURATION = Histogram(
    "switchboard_campaigns_pass_duration_seconds",
    "How long a pass of the journey runner or the scheduler took, when it had work.",
    ["loop"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
AGENT_DECISIONS = Counter(
    "switchboard_campaigns_agent_decisions",
    "The agent's answers: send, skip, delay; and attempts that gave none (retried, failed).",
    ["outcome"],
)
