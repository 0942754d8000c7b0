"""The AsyncAPI 3.0 description of every topic and event, generated from the models.

`python -m switchboard.contracts.asyncapi > docs/events.asyncapi.json` regenerates the committed
copy; a test fails when the two differ.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from switchboard.contracts.registry import TOPIC_EVENTS
from switchboard.contracts.topics import Topic

_KEYS: dict[Topic, str] = {
    Topic.MESSAGES_INBOUND: "tenant_id:contact address",
    Topic.MESSAGES_OUTBOUND: "tenant_id:recipient address",
    Topic.MESSAGES_STATUS: "tenant_id:recipient address",
    Topic.CONSENT: "tenant_id:address",
    Topic.CONTACTS: "tenant_id:contact address",
    Topic.USAGE: "tenant_id",
    Topic.ENTITLEMENTS: "tenant_id[:contact address]",
    Topic.TENANTS: "tenant_id or api key id",
    Topic.CAMPAIGNS: "tenant_id:campaign_id",
    Topic.CONVERSATIONS: "tenant_id:contact address",
    Topic.EVENTS: "tenant_id:contact address or external id",
    Topic.BILLING: "tenant_id",
}


def build_document() -> dict[str, Any]:
    """The whole AsyncAPI document as plain data, deterministic for a given code base."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (kind, "validation") for kinds in TOPIC_EVENTS.values() for kind in kinds
    ]
    _, schema = models_json_schema(models, ref_template="#/components/schemas/{model}")
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, kinds in TOPIC_EVENTS.items():
        channel_id = topic.value.replace(".", "_")
        refs = {}
        for kind in kinds:
            event_type = kind.model_fields["type"].default
            messages[kind.__name__] = {
                "name": event_type,
                "title": event_type,
                "summary": (kind.__doc__ or event_type).strip().splitlines()[0],
                "contentType": "application/json",
                "headers": {
                    "type": "object",
                    "properties": {"traceparent": {"type": "string"}},
                },
                "payload": {"$ref": f"#/components/schemas/{kind.__name__}"},
            }
            refs[kind.__name__] = {"$ref": f"#/components/messages/{kind.__name__}"}
        channels[channel_id] = {
            "address": topic.value,
            "description": f"Key: {_KEYS[topic]}."
            + (" Compacted." if topic.compacted else "")
            + f" Poison messages go to `{topic.dead_letter}`.",
            "messages": refs,
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Switchboard events",
            "version": "1",
            "description": "Every event shares the envelope: event_id (UUIDv7), type, version, "
            "tenant_id, occurred_at, data.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schema.get("$defs", {})},
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
