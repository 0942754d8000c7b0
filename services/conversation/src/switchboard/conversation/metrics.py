"""The conversation service's business counters (no addresses or bodies in labels)."""

from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "switchboard_conversation_messages",
    "Contacts' messages by what they got (answered, handed_over, flagged, failed...).",
    ["channel", "outcome"],
)
REPLIES_SHORTENED = Counter(
    "switchboard_conversation_replies_shortened",
    "Model replies shortened to fit the channel's limit.",
    ["channel"],
)
LLM_TOKENS = Counter(
    "switchboard_conversation_llm_tokens",
    "Tokens consumed by the assistant's model.",
    ["provider", "model", "direction"],
)
LLM_DURATION = Histogram(
    "switchboard_conversation_llm_duration_seconds",
    "Time for the model to complete one reply.",
    ["provider", "model"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
