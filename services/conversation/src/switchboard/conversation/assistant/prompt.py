"""The model's instructions: the persona, the business, the contact, the channel's limit and
what the conversation said before the turns the model sees word for word."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switchboard.contracts import Channel
from switchboard.conversation.models import AssistantSettings, Contact
from switchboard.conversation.personas.service import ResolvedPersona
from switchboard.conversation.shaping import limit_instruction

CHANNEL_NAMES = {"sms": "SMS text message", "whatsapp": "WhatsApp"}


def instructions(
    *,
    persona: ResolvedPersona,
    settings: AssistantSettings,
    contact: Contact | None,
    channel: Channel,
    summary: str | None,
    now: datetime | None = None,
) -> str:
    """The system prompt for one reply, from the most to the least stable part."""
    name = settings.assistant_name or persona.name
    parts = [
        persona.instructions.strip(),
        f"You are {name}, talking with a customer by {CHANNEL_NAMES.get(channel, channel)}.",
    ]
    if settings.business_facts.strip():
        parts.append(
            "What you know about the business (state nothing else as fact about it):\n"
            + settings.business_facts.strip()
        )
    if contact is not None:
        parts.extend(_about(contact, now or datetime.now(UTC)))
    parts.append(limit_instruction(channel, settings.sms_max_segments))
    if summary:
        parts.append(f"Summary of the conversation before the messages below:\n{summary}")
    return "\n\n".join(parts)


def _about(contact: Contact, now: datetime) -> list[str]:
    facts = []
    if contact.display_name:
        facts.append(f"name: {contact.display_name}")
    facts.extend(f"{key}: {value}" for key, value in sorted(contact.attributes.items()))
    lines = []
    if facts:
        lines.append("About the customer: " + "; ".join(facts) + ".")
    if contact.time_zone:
        try:
            local = now.astimezone(ZoneInfo(contact.time_zone))
        except (ZoneInfoNotFoundError, ValueError):
            local = None
        if local is not None:
            lines.append(
                f"The customer's local time is {local:%A %d %B %Y, %H:%M} ({contact.time_zone})."
            )
    if contact.language:
        lines.append(f"Always reply in {contact.language}.")
    return lines
