"""One cost ledger, broken down by day, channel, campaign or contact, and exported as CSV: facts
published on the real broker with their campaigns, read back through the HTTP API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from switchboard.billing.periods import Period
from switchboard.billing.usage.service import CSV_COLUMNS, LedgerFilter, usage_ledger
from switchboard.common.db import Database
from switchboard.devstack.testkit import Publish, eventually

from ..helpers import Tenant, breakdown_of, ledger_csv, ledger_of, llm_usage, sms_status

pytestmark = pytest.mark.usefixtures("billing_worker")

ADA, BO = "+15550001111", "+15550002222"


def midnight(days_ago: int) -> datetime:
    """The start of a UTC day, `days_ago` days before today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def days(start: datetime, end: datetime) -> dict[str, str]:
    """The period from one UTC day to another, as bare dates."""
    return {"from": start.date().isoformat(), "to": end.date().isoformat()}


async def has_sources(billing: httpx.AsyncClient, tenant: Tenant, *sources: str) -> bool:
    found = {row["source_id"] for row in await ledger_of(billing, tenant, limit="500")}
    return set(sources) <= found


def row(
    *keys: tuple[str, Any], kind: str, quantity: int, cost: str, entries: int
) -> dict[str, Any]:
    """A breakdown row as the API returns it: its keys, then what every row has."""
    unit = {"llm_tokens": "tokens", "sms_segments": "segments"}[kind]
    totals = {"kind": kind, "unit": unit, "currency": "USD"}
    return dict(keys) | totals | {"quantity": quantity, "cost": cost, "entries": entries}


class TestBreakdown:
    async def test_by_campaign_day_and_channel_it_sums_what_was_published_once(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given two campaigns' texts and agent calls over two days, and a reply of no campaign
        first_day, second_day = midnight(2) + timedelta(hours=10), midnight(1) + timedelta(hours=23)
        spring, autumn = sorted((uuid4(), uuid4()), key=str)
        welcome, reminder, offer, answer = uuid4(), uuid4(), uuid4(), uuid4()
        tenant = customer.id
        sent = sms_status(tenant, welcome, "sent", segments=2, campaign_id=spring,
                          occurred_at=first_day)  # fmt: skip
        composing = llm_usage(tenant, tokens=1000, cost="0.002", channel="sms",
                              campaign_id=spring, occurred_at=first_day)  # fmt: skip
        # When their events are published, some twice (a redelivery) or reported twice (a
        # text's `sent`, then its `delivered`)
        for event in (
            sent,
            sent,
            sms_status(tenant, welcome, "delivered", segments=2, campaign_id=spring,
                       occurred_at=first_day),
            sms_status(tenant, reminder, "delivered", segments=1, campaign_id=spring,
                       occurred_at=second_day),
            sms_status(tenant, offer, "sent", segments=1, price="0.0166", campaign_id=autumn,
                       occurred_at=second_day),
            sms_status(tenant, answer, "sent", segments=3, occurred_at=first_day),
            composing,
            composing,
            llm_usage(tenant, tokens=500, cost="0.001", channel="whatsapp",
                      occurred_at=second_day),
            llm_usage(tenant, tokens=10, cost="0.00002", channel="sms", campaign_id=autumn,
                      occurred_at=second_day, source_id="last-call"),
        ):  # fmt: skip
            await publish(event)
        # (the last text and the last call come after the repeats, on the same partitions)
        await eventually(lambda: has_sources(billing, customer, str(answer), "last-call"))
        period = days(midnight(2), midnight(-1))
        # Then by campaign, each one's texts and calls count once, at their prices
        assert await breakdown_of(billing, customer, "campaign", **period) == [
            row(("campaign_id", str(spring)), kind="llm_tokens", quantity=1000, cost="0.002",
                entries=1),
            row(("campaign_id", str(spring)), kind="sms_segments", quantity=3, cost="0.0237",
                entries=2),
            row(("campaign_id", str(autumn)), kind="llm_tokens", quantity=10, cost="0.00002",
                entries=1),
            row(("campaign_id", str(autumn)), kind="sms_segments", quantity=1, cost="0.0166",
                entries=1),
            row(("campaign_id", None), kind="llm_tokens", quantity=500, cost="0.001", entries=1),
            row(("campaign_id", None), kind="sms_segments", quantity=3, cost="0.0237", entries=1),
        ]  # fmt: skip
        # And by day, then channel, in that order
        first, second = first_day.date().isoformat(), second_day.date().isoformat()
        assert await breakdown_of(billing, customer, "day", "channel", **period) == [
            row(("day", first), ("channel", "sms"), kind="llm_tokens", quantity=1000,
                cost="0.002", entries=1),
            row(("day", first), ("channel", "sms"), kind="sms_segments", quantity=5,
                cost="0.0395", entries=2),
            row(("day", second), ("channel", "sms"), kind="llm_tokens", quantity=10,
                cost="0.00002", entries=1),
            row(("day", second), ("channel", "sms"), kind="sms_segments", quantity=2,
                cost="0.0245", entries=2),
            row(("day", second), ("channel", "whatsapp"), kind="llm_tokens", quantity=500,
                cost="0.001", entries=1),
        ]  # fmt: skip
        # And one campaign's days; and by day when no grouping is asked for
        assert await breakdown_of(billing, customer, "day", campaign_id=str(spring), **period) == [
            row(("day", first), kind="llm_tokens", quantity=1000, cost="0.002", entries=1),
            row(("day", first), kind="sms_segments", quantity=2, cost="0.0158", entries=1),
            row(("day", second), kind="sms_segments", quantity=1, cost="0.0079", entries=1),
        ]
        by_day = await billing.get("/v1/usage/breakdown", params=period, headers=customer.headers)
        assert by_day.json()["group_by"] == ["day"]
        assert [(r["day"], r["kind"], r["entries"]) for r in by_day.json()["rows"]] == [
            (first, "llm_tokens", 1),
            (first, "sms_segments", 2),
            (second, "llm_tokens", 2),
            (second, "sms_segments", 2),
        ]
        # And outside the period there is nothing
        before = days(midnight(9), midnight(2))
        assert await breakdown_of(billing, customer, "campaign", **before) == []

    async def test_one_end_users_costs(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given texts to two contacts, and a model call for one of them
        ada_text, bo_text = uuid4(), uuid4()
        await publish(sms_status(customer.id, ada_text, "sent", segments=2, to=ADA))
        await publish(sms_status(customer.id, bo_text, "sent", segments=1, to=BO))
        call = llm_usage(customer.id, tokens=100, cost="0.0002", contact_address=BO)
        await publish(call)
        sources = (str(ada_text), str(bo_text), call.data.source_id)
        await eventually(lambda: has_sources(billing, customer, *sources))
        # When the tenant looks per contact, then at one of them
        per_contact = await breakdown_of(billing, customer, "contact")
        bo_only = await breakdown_of(billing, customer, "kind", contact_address=BO)
        # Then each contact's costs are theirs
        assert per_contact == [
            row(("contact_address", ADA), kind="sms_segments", quantity=2, cost="0.0158",
                entries=1),
            row(("contact_address", BO), kind="llm_tokens", quantity=100, cost="0.0002",
                entries=1),
            row(("contact_address", BO), kind="sms_segments", quantity=1, cost="0.0079",
                entries=1),
        ]  # fmt: skip
        assert bo_only == [
            row(kind="llm_tokens", quantity=100, cost="0.0002", entries=1),
            row(kind="sms_segments", quantity=1, cost="0.0079", entries=1),
        ]

    async def test_another_tenant_sees_none_of_it(
        self,
        billing: httpx.AsyncClient,
        customer: Tenant,
        other_customer: Tenant,
        publish: Publish,
    ) -> None:
        event = llm_usage(customer.id, campaign_id=uuid4())
        await publish(event)
        await eventually(lambda: has_sources(billing, customer, event.data.source_id))
        assert await breakdown_of(billing, other_customer, "campaign") == []
        assert csv_lines((await ledger_csv(billing, other_customer)).text) == [list(CSV_COLUMNS)]


def csv_lines(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def parsed(record: dict[str, Any]) -> dict[str, Any]:
    """A ledger row from the CSV or the JSON API, in one form: strings, empty as none."""
    values = {name: record[name] for name in CSV_COLUMNS}
    values = {name: None if value in ("", None) else str(value) for name, value in values.items()}
    values["occurred_at"] = datetime.fromisoformat(str(values["occurred_at"]))
    return values


class TestCsvExport:
    async def test_the_csv_is_exactly_the_periods_ledger_rows_with_their_campaigns(
        self, billing: httpx.AsyncClient, customer: Tenant, publish: Publish
    ) -> None:
        # Given texts and calls this week, some of a campaign, and a call long before
        campaign, texts = uuid4(), (uuid4(), uuid4())
        old = llm_usage(customer.id, occurred_at=datetime.now(UTC) - timedelta(days=40))
        calls = (
            llm_usage(customer.id, tokens=7, cost="0.000014", contact_address=ADA,
                      channel="sms", campaign_id=campaign),
            llm_usage(customer.id, tokens=3, cost="0"),
        )  # fmt: skip
        for event in (
            old,
            *calls,
            sms_status(customer.id, texts[0], "sent", segments=2, campaign_id=campaign),
            sms_status(customer.id, texts[1], "delivered", segments=1, price="0.0166"),
        ):
            await publish(event)
        sources = [old.data.source_id, *(c.data.source_id for c in calls), *map(str, texts)]
        await eventually(lambda: has_sources(billing, customer, *sources))
        # When the tenant exports the week
        period = days(midnight(7), midnight(-1))
        response = await ledger_csv(billing, customer, **period)
        # Then it downloads a CSV file named after the period
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="usage-{period["from"]}-{period["to"]}.csv"'
        )
        # Whose rows are the ledger's rows of the period, oldest first, campaign included
        reader = csv.DictReader(io.StringIO(response.text))
        assert reader.fieldnames == list(CSV_COLUMNS)
        exported = [parsed(line) for line in reader]
        ledger = [parsed(r) for r in await ledger_of(billing, customer, limit="500")]
        in_period = [r for r in ledger if r["source_id"] != old.data.source_id]
        assert len(in_period) == 4
        assert exported == sorted(in_period, key=lambda r: (r["occurred_at"], r["id"]))
        assert sorted(str(r["campaign_id"]) for r in exported) == sorted(
            [str(campaign), str(campaign), "None", "None"]
        )
        # And the old call is in a wider export only
        wider = await ledger_csv(billing, customer, **days(midnight(60), midnight(-1)))
        assert len(csv_lines(wider.text)) == 1 + 5

    async def test_the_rows_are_read_and_sent_in_batches(
        self,
        billing: httpx.AsyncClient,
        billing_db: Database,
        customer: Tenant,
        publish: Publish,
    ) -> None:
        # Given five facts
        events = [llm_usage(customer.id, tokens=n) for n in range(1, 6)]
        for event in events:
            await publish(event)
        await eventually(lambda: has_sources(billing, customer, events[-1].data.source_id))
        # When the export reads them two at a time
        today = midnight(0)
        period = Period(today - timedelta(days=1), today + timedelta(days=1))
        chunks = [
            chunk
            async for chunk in usage_ledger.export_csv(
                billing_db, customer.id, period, LedgerFilter(), batch_size=2
            )
        ]
        # Then the header, then a chunk per batch, went out, making the file the API sends
        assert [len(csv_lines(chunk)) for chunk in chunks] == [1, 2, 2, 1]
        api = await ledger_csv(billing, customer, **days(today - timedelta(days=1), midnight(-1)))
        assert "".join(chunks) == api.text
