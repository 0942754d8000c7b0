"""The event contracts: round trips, topic routing, and the committed AsyncAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from switchboard.contracts import (
    TOPIC_EVENTS,
    MessageRequested,
    MessageRequestedData,
    Topic,
    UnknownEventError,
    parse_event,
    topic_of,
)
from switchboard.contracts.asyncapi import render

ROOT = Path(__file__).resolve().parents[3]


class TestParseEvent:
    def test_an_event_survives_its_json_form(self) -> None:
        event = MessageRequested.create(
            uuid4(),
            MessageRequestedData(
                idempotency_key="reply:1",
                origin="reply",
                priority="reply",
                channel="sms",
                to_address="+15550000001",
                body="hello",
                not_before=datetime.now(UTC),
            ),
        )
        assert parse_event(event.model_dump_json()) == event
        assert topic_of(event) is Topic.MESSAGES_OUTBOUND
        assert event.event_id.version == 7

    def test_an_unknown_type_is_refused(self) -> None:
        with pytest.raises(UnknownEventError):
            parse_event(b'{"type": "nope", "tenant_id": "00000000-0000-0000-0000-000000000000"}')

    def test_every_topic_carries_events(self) -> None:
        assert set(TOPIC_EVENTS) == set(Topic)


class TestAsyncApiDocument:
    def test_the_committed_document_matches_the_models(self) -> None:
        committed = (ROOT / "docs" / "events.asyncapi.json").read_text()
        assert committed == render(), "run `make contracts` and commit docs/events.asyncapi.json"
