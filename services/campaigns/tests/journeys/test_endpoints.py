"""Campaigns API: campaigns are checked whole when saved, versioned when their steps change, move
through draft, active, paused and disabled, enroll contacts by hand or by audience, and are
private to a tenant.

No journey runner runs here: enrollments stay at their first step. Contacts are written straight
into the contacts replica, as the worker's `contacts` consumer would.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy.dialects.postgresql import insert

from switchboard.campaigns.journeys import jobs
from switchboard.campaigns.models import Contact, ScheduledSend
from switchboard.common.db import Database
from switchboard.common.settings import PlatformSettings


class Tenant(Protocol):
    """A tenant from the fixtures: its id and the headers carrying its API key."""

    id: UUID

    @property
    def headers(self) -> dict[str, str]: ...


@pytest.fixture(scope="module")
async def replica(platform_env: dict[str, str]) -> AsyncIterator[Database]:
    """The campaigns database, to put contacts in the replica (and sends in the schedule)."""
    db = Database(PlatformSettings().database_url, pool_size=2)
    yield db
    await db.dispose()


async def add_contact(
    replica: Database, tenant: Tenant, address: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A contact in the tenant's replica, as the conversation service published it."""
    contact = {
        "tenant_id": tenant.id,
        "contact_id": uuid4(),
        "address": address or random_address(),
        "display_name": None,
        "time_zone": None,
        "attributes": {},
        "blocked": False,
        "updated_at": datetime.now(UTC),
    } | fields
    async with replica.transaction() as session:
        await session.execute(insert(Contact).values(contact))
    return contact


def random_address() -> str:
    return f"+1555{secrets.randbelow(10**7):07d}"


def onboarding(**overrides: Any) -> dict[str, Any]:
    """A valid manual campaign with a fresh name: a welcome, a day's wait, a follow-up."""
    body: dict[str, Any] = {
        "name": f"Onboarding {secrets.token_hex(4)}",
        "trigger": {"type": "manual"},
        "steps": [
            {"type": "send", "id": "welcome", "template": "Welcome {{ contact.display_name }}!"},
            {"type": "wait", "seconds": 86400},
            {"type": "send", "template": "How is it going?"},
        ],
        "exit_replies": ["stop", "not interested"],
    }
    return body | overrides


async def create(campaigns: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> Any:
    response = await campaigns.post("/v1/campaigns", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def act(campaigns: httpx.AsyncClient, tenant: Tenant, campaign: Any, action: str) -> Any:
    response = await campaigns.post(
        f"/v1/campaigns/{campaign['id']}/{action}", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def active(campaigns: httpx.AsyncClient, tenant: Tenant, **overrides: Any) -> Any:
    """A campaign that takes contacts."""
    campaign = await create(campaigns, tenant, onboarding(**overrides))
    return await act(campaigns, tenant, campaign, "activate")


async def enroll(
    campaigns: httpx.AsyncClient, tenant: Tenant, campaign: Any, body: dict[str, Any]
) -> Any:
    path = f"/v1/campaigns/{campaign['id']}/enrollments"
    response = await campaigns.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    return response.json()


async def enrollments(
    campaigns: httpx.AsyncClient, tenant: Tenant, campaign: Any, **params: Any
) -> list[Any]:
    path = f"/v1/campaigns/{campaign['id']}/enrollments"
    response = await campaigns.get(path, params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    listed: list[Any] = response.json()
    return listed


def addresses(*numbers: str) -> dict[str, Any]:
    return {"contacts": [{"address": number} for number in numbers]}


def messages(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return " ".join(error["msg"] for error in response.json()["detail"])


class TestCreateCampaign:
    async def test_a_campaign_is_stored_as_a_draft_at_version_1(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a manual campaign of three steps
        body = onboarding(reenroll=True)
        # When it is created
        response = await campaigns.post("/v1/campaigns", json=body, headers=customer.headers)
        # Then it is a draft at version 1, and reads back the same
        assert response.status_code == 201, response.text
        campaign = response.json()
        assert UUID(campaign["id"]).version == 7
        assert (campaign["status"], campaign["version"]) == ("draft", 1)
        assert campaign["name"] == body["name"]
        assert campaign["trigger"] == {"type": "manual"}
        assert campaign["exit_replies"] == ["stop", "not interested"]
        assert campaign["reenroll"] is True
        assert campaign["event_attributes"] == []
        assert [step["type"] for step in campaign["steps"]] == ["send", "wait", "send"]
        assert campaign["steps"][0]["id"] == "welcome"
        assert campaign["steps"][1]["seconds"] == 86400
        read = await campaigns.get(f"/v1/campaigns/{campaign['id']}", headers=customer.headers)
        assert read.status_code == 200
        assert read.json() == campaign

    async def test_an_event_trigger_and_branches_round_trip(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        condition = {"not": {"field": "event.total", "op": "lt", "value": 100}}
        trigger = {"type": "event", "event_type": "order.shipped", "condition": condition}
        steps = [
            {"type": "send", "template": "Order {{ event.order_id }} shipped."},
            {"type": "wait_for_reply", "timeout_seconds": 3600, "on_reply": "thanks"},
            {"type": "branch", "condition": condition, "goto": "thanks"},
            {"type": "exit"},
            {"type": "send", "id": "thanks", "template": "Thanks!"},
        ]
        body = onboarding(trigger=trigger, event_attributes=["order_id"], steps=steps)
        campaign = await create(campaigns, customer, body)
        assert campaign["trigger"] == trigger
        assert campaign["event_attributes"] == ["order_id"]
        assert campaign["steps"][2]["condition"] == condition
        assert campaign["steps"][1]["on_reply"] == "thanks"

    async def test_a_date_trigger_round_trips(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        trigger = {"type": "date", "attribute": "signup_date", "offset_days": 3, "at": "10:00"}
        campaign = await create(campaigns, customer, onboarding(trigger=trigger))
        assert campaign["trigger"] == trigger

    async def test_a_name_the_tenant_already_uses_is_a_conflict(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        first = await create(campaigns, customer, onboarding())
        response = await campaigns.post(
            "/v1/campaigns", json=onboarding(name=first["name"]), headers=customer.headers
        )
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "conflict"
        assert f"named {first['name']!r} already exists" in response.json()["error"]["message"]


class TestCreateCampaignValidation:
    @pytest.mark.parametrize(
        ("steps", "event_attributes", "expected"),
        [
            pytest.param(
                [
                    {
                        "type": "branch",
                        "condition": {"field": "contact.address", "op": "exists"},
                        "goto": "nowhere",
                    }
                ],
                [],
                "Step 1 jumps to 'nowhere', which no step is called.",
                id="unknown-jump-target",
            ),
            pytest.param(
                [
                    {"type": "send", "id": "again", "template": "Hi"},
                    {
                        "type": "branch",
                        "condition": {"field": "contact.address", "op": "exists"},
                        "goto": "again",
                    },
                ],
                [],
                "loop without a wait",
                id="loop-without-a-wait",
            ),
            pytest.param(
                [{"type": "send", "template": "Order {{ event.order_id }}"}],
                [],
                "add 'order_id' to event_attributes",
                id="undeclared-event-attribute",
            ),
            pytest.param(
                [{"type": "wait", "seconds": 60, "until": "10:00"}],
                [],
                "either `seconds` or `until`",
                id="wait-with-seconds-and-until",
            ),
            pytest.param([], [], "A campaign has 1 to 50 steps.", id="no-steps"),
            pytest.param(
                [{"type": "send", "template": "Hi"}],
                ["type"],
                "'type' is the event's type",
                id="invalid-event-attribute",
            ),
        ],
    )
    async def test_steps_that_cannot_run_are_refused(
        self,
        campaigns: httpx.AsyncClient,
        onlooker: Tenant,
        steps: list[Any],
        event_attributes: list[str],
        expected: str,
    ) -> None:
        body = onboarding(steps=steps, event_attributes=event_attributes)
        response = await campaigns.post("/v1/campaigns", json=body, headers=onlooker.headers)
        assert expected in messages(response)

    @pytest.mark.parametrize(
        "overrides",
        [
            pytest.param({"name": ""}, id="empty-name"),
            pytest.param({"trigger": {"type": "date", "attribute": "x"}}, id="date-without-at"),
            pytest.param({"trigger": {"type": "cron"}}, id="unknown-trigger"),
            pytest.param({"exit_replies": ["x" * 101]}, id="long-exit-reply"),
            pytest.param({"exit_replies": ["stop"] * 21}, id="too-many-exit-replies"),
            pytest.param({"exit_replies": [" "]}, id="blank-exit-reply"),
            pytest.param({"reenroll": "yes"}, id="reenroll-not-a-bool"),
            pytest.param({"status": "active"}, id="status-is-not-written"),
        ],
    )
    async def test_invalid_fields_are_refused(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant, overrides: dict[str, Any]
    ) -> None:
        response = await campaigns.post(
            "/v1/campaigns", json=onboarding(**overrides), headers=onlooker.headers
        )
        assert response.status_code == 422, response.text


class TestListCampaigns:
    async def test_newest_first_by_status_and_page(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given three campaigns, the newest active
        oldest = await create(campaigns, customer, onboarding())
        middle = await create(campaigns, customer, onboarding())
        newest = await active(campaigns, customer)

        async def listed(**params: Any) -> list[str]:
            response = await campaigns.get("/v1/campaigns", params=params, headers=customer.headers)
            assert response.status_code == 200, response.text
            return [campaign["id"] for campaign in response.json()]

        # Then they list newest first, by status, and a page at a time
        assert await listed() == [newest["id"], middle["id"], oldest["id"]]
        assert await listed(status="draft") == [middle["id"], oldest["id"]]
        assert await listed(status="active") == [newest["id"]]
        assert await listed(limit=1, before=newest["id"]) == [middle["id"]]

    async def test_listed_campaigns_show_their_current_steps(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await create(campaigns, customer, onboarding())
        steps = [{"type": "send", "template": "Version two"}]
        await campaigns.patch(
            f"/v1/campaigns/{campaign['id']}", json={"steps": steps}, headers=customer.headers
        )
        response = await campaigns.get("/v1/campaigns", headers=customer.headers)
        (listed,) = response.json()
        assert listed["version"] == 2
        assert [step["template"] for step in listed["steps"]] == ["Version two"]

    async def test_an_unknown_status_is_refused(
        self, campaigns: httpx.AsyncClient, onlooker: Tenant
    ) -> None:
        response = await campaigns.get(
            "/v1/campaigns", params={"status": "running"}, headers=onlooker.headers
        )
        assert response.status_code == 422


class TestUpdateCampaign:
    async def test_new_steps_make_a_new_version(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a campaign at version 1
        campaign = await create(campaigns, customer, onboarding())
        path = f"/v1/campaigns/{campaign['id']}"
        # When its steps change
        steps = [{"type": "send", "template": "Hello again"}, {"type": "exit"}]
        response = await campaigns.patch(path, json={"steps": steps}, headers=customer.headers)
        # Then it is at version 2, with the new steps
        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated["version"] == 2
        assert [step["type"] for step in updated["steps"]] == ["send", "exit"]
        assert updated["updated_at"] > campaign["updated_at"]
        assert (await campaigns.get(path, headers=customer.headers)).json() == updated

    async def test_other_changes_keep_the_version(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await create(campaigns, customer, onboarding())
        path = f"/v1/campaigns/{campaign['id']}"
        changes = {
            "name": f"Renamed {secrets.token_hex(4)}",
            "exit_replies": ["unsubscribe"],
            "reenroll": True,
            "trigger": {"type": "event", "event_type": "account.created"},
            "steps": campaign["steps"],  # the same steps
        }
        response = await campaigns.patch(path, json=changes, headers=customer.headers)
        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated["version"] == 1
        assert {key: updated[key] for key in changes if key != "trigger"} == {
            key: value for key, value in changes.items() if key != "trigger"
        }
        assert updated["trigger"]["event_type"] == "account.created"

    async def test_new_event_attributes_make_a_new_version(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await create(campaigns, customer, onboarding())
        path = f"/v1/campaigns/{campaign['id']}"
        response = await campaigns.patch(
            path, json={"event_attributes": ["plan"]}, headers=customer.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 2

    async def test_steps_are_checked_against_the_campaign_as_it_would_be(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a campaign whose step reads an event attribute it declares
        steps = [{"type": "send", "template": "Your plan: {{ event.plan }}"}]
        campaign = await create(
            campaigns, customer, onboarding(steps=steps, event_attributes=["plan"])
        )
        path = f"/v1/campaigns/{campaign['id']}"
        # When the attribute is no longer declared, the change is refused
        response = await campaigns.patch(
            path, json={"event_attributes": []}, headers=customer.headers
        )
        assert "add 'plan' to event_attributes" in messages(response)
        assert response.json()["detail"][0]["loc"] == ["body", "event_attributes"]
        # And steps that read an undeclared one are refused too
        bad = [{"type": "send", "template": "{{ event.total }}"}]
        response = await campaigns.patch(path, json={"steps": bad}, headers=customer.headers)
        assert "add 'total' to event_attributes" in messages(response)
        assert response.json()["detail"][0]["loc"] == ["body", "steps"]
        # And the campaign is unchanged
        assert (await campaigns.get(path, headers=customer.headers)).json() == campaign

    async def test_null_fields_and_taken_names_are_refused(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        first = await create(campaigns, customer, onboarding())
        second = await create(campaigns, customer, onboarding())
        path = f"/v1/campaigns/{second['id']}"
        response = await campaigns.patch(path, json={"steps": None}, headers=customer.headers)
        assert "cannot be null" in messages(response)
        response = await campaigns.patch(
            path, json={"name": first["name"]}, headers=customer.headers
        )
        assert response.status_code == 409, response.text

    async def test_a_disabled_campaign_cannot_be_changed(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await create(campaigns, customer, onboarding())
        await act(campaigns, customer, campaign, "disable")
        response = await campaigns.patch(
            f"/v1/campaigns/{campaign['id']}", json={"reenroll": True}, headers=customer.headers
        )
        assert response.status_code == 409, response.text
        assert "disabled" in response.json()["error"]["message"]


class TestLifecycle:
    async def test_draft_active_paused_active_disabled(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await create(campaigns, customer, onboarding())
        activated = await act(campaigns, customer, campaign, "activate")
        assert activated["status"] == "active"
        assert activated["updated_at"] > campaign["updated_at"]
        paused = await act(campaigns, customer, campaign, "pause")
        assert paused["status"] == "paused"
        resumed = await act(campaigns, customer, campaign, "activate")
        assert resumed["status"] == "active"
        disabled = await act(campaigns, customer, campaign, "disable")
        assert (disabled["status"], disabled["exited"]) == ("disabled", 0)

    @pytest.mark.parametrize(
        ("moves", "refused", "status"),
        [
            pytest.param([], "pause", "draft", id="pause-a-draft"),
            pytest.param(["activate"], "activate", "active", id="activate-an-active"),
            pytest.param(["activate", "pause"], "pause", "paused", id="pause-a-paused"),
            pytest.param(["disable"], "activate", "disabled", id="activate-a-disabled"),
            pytest.param(["disable"], "pause", "disabled", id="pause-a-disabled"),
            pytest.param(["disable"], "disable", "disabled", id="disable-a-disabled"),
        ],
    )
    async def test_wrong_moves_are_conflicts_naming_the_status(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        moves: list[str],
        refused: str,
        status: str,
    ) -> None:
        campaign = await create(campaigns, customer, onboarding())
        for move in moves:
            await act(campaigns, customer, campaign, move)
        response = await campaigns.post(
            f"/v1/campaigns/{campaign['id']}/{refused}", headers=customer.headers
        )
        assert response.status_code == 409, response.text
        assert f"The campaign is {status}" in response.json()["error"]["message"]

    async def test_disabling_takes_every_contact_out(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given an active campaign with two contacts in it
        campaign = await active(campaigns, customer)
        await enroll(campaigns, customer, campaign, addresses(random_address(), random_address()))
        # When it is disabled
        disabled = await act(campaigns, customer, campaign, "disable")
        # Then both have exited, and it takes no one any more
        assert disabled["exited"] == 2
        ended = await enrollments(campaigns, customer, campaign)
        assert {(e["status"], e["reason"]) for e in ended} == {("exited", "campaign disabled")}
        assert all(e["ended_at"] is not None for e in ended)
        response = await campaigns.post(
            f"/v1/campaigns/{campaign['id']}/enrollments",
            json=addresses(random_address()),
            headers=customer.headers,
        )
        assert response.status_code == 409


class TestEnrollContacts:
    async def test_only_an_active_campaign_takes_contacts(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await create(campaigns, customer, onboarding())
        path = f"/v1/campaigns/{campaign['id']}/enrollments"
        response = await campaigns.post(
            path, json=addresses(random_address()), headers=customer.headers
        )
        assert response.status_code == 409, response.text
        assert "The campaign is draft" in response.json()["error"]["message"]
        await act(campaigns, customer, campaign, "activate")
        await act(campaigns, customer, campaign, "pause")
        response = await campaigns.post(
            path, json=addresses(random_address()), headers=customer.headers
        )
        assert response.status_code == 409, response.text
        assert "The campaign is paused" in response.json()["error"]["message"]

    async def test_contacts_enrolled_by_address_start_at_the_first_step(
        self, campaigns: httpx.AsyncClient, customer: Tenant, replica: Database
    ) -> None:
        # Given an active campaign, and one of two addresses a known contact's
        campaign = await active(campaigns, customer)
        known = await add_contact(replica, customer, display_name="Ada")
        stranger_address = random_address()
        # When both are enrolled
        outcome = await enroll(
            campaigns, customer, campaign, addresses(known["address"], stranger_address)
        )
        # Then both are in the campaign at its first step, on version 1
        assert (outcome["enrolled"], outcome["skipped"], outcome["not_found"]) == (2, 0, [])
        listed = await enrollments(campaigns, customer, campaign)
        assert sorted(e["id"] for e in listed) == sorted(outcome["enrollment_ids"])
        by_address = {e["address"]: e for e in listed}
        assert by_address.keys() == {known["address"], stranger_address}
        assert by_address[known["address"]]["contact_id"] == str(known["contact_id"])
        assert by_address[stranger_address]["contact_id"] is None
        for enrollment in listed:
            assert enrollment["campaign_id"] == campaign["id"]
            assert (enrollment["status"], enrollment["step"], enrollment["version"]) == (
                "active",
                0,
                1,
            )
            assert enrollment["reason"] is None
            assert enrollment["ended_at"] is None
            assert enrollment["next_run_at"] == enrollment["enrolled_at"]

    async def test_contacts_enrolled_by_id_come_from_the_replica(
        self, campaigns: httpx.AsyncClient, customer: Tenant, replica: Database
    ) -> None:
        # Given two known contacts, one of them blocked, and an id no contact has
        campaign = await active(campaigns, customer)
        ada = await add_contact(replica, customer)
        blocked = await add_contact(replica, customer, blocked=True)
        unknown = uuid4()
        refs = [{"contact_id": str(c)} for c in (ada["contact_id"], blocked["contact_id"], unknown)]
        # When all three are enrolled
        outcome = await enroll(campaigns, customer, campaign, {"contacts": refs})
        # Then only the contact who is not blocked is, and the unknown id is reported
        assert (outcome["enrolled"], outcome["skipped"]) == (1, 2)
        assert outcome["not_found"] == [str(unknown)]
        (enrollment,) = await enrollments(campaigns, customer, campaign)
        assert (enrollment["address"], enrollment["contact_id"]) == (
            ada["address"],
            str(ada["contact_id"]),
        )

    async def test_a_blocked_contact_is_not_enrolled_by_address(
        self, campaigns: httpx.AsyncClient, customer: Tenant, replica: Database
    ) -> None:
        campaign = await active(campaigns, customer)
        blocked = await add_contact(replica, customer, blocked=True)
        outcome = await enroll(campaigns, customer, campaign, addresses(blocked["address"]))
        assert (outcome["enrolled"], outcome["skipped"]) == (0, 1)

    async def test_a_contact_is_in_a_campaign_once_at_a_time(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await active(campaigns, customer, reenroll=True)
        number = random_address()
        first = await enroll(campaigns, customer, campaign, addresses(number, number))
        assert (first["enrolled"], first["skipped"]) == (1, 1)
        again = await enroll(campaigns, customer, campaign, addresses(number))
        assert (again["enrolled"], again["skipped"], again["enrollment_ids"]) == (0, 1, [])
        assert len(await enrollments(campaigns, customer, campaign)) == 1

    @pytest.mark.parametrize(("reenroll", "enrolled"), [(False, 0), (True, 1)])
    async def test_a_contact_who_left_comes_back_only_if_the_campaign_reenrolls(
        self, campaigns: httpx.AsyncClient, customer: Tenant, reenroll: bool, enrolled: int
    ) -> None:
        # Given a contact who was removed from the campaign
        campaign = await active(campaigns, customer, reenroll=reenroll)
        number = random_address()
        (first,) = (await enroll(campaigns, customer, campaign, addresses(number)))[
            "enrollment_ids"
        ]
        path = f"/v1/campaigns/{campaign['id']}/enrollments/{first}"
        assert (await campaigns.delete(path, headers=customer.headers)).status_code == 200
        # When they are enrolled again
        outcome = await enroll(campaigns, customer, campaign, addresses(number))
        # Then they come back only when the campaign re-enrolls
        assert (outcome["enrolled"], outcome["skipped"]) == (enrolled, 1 - enrolled)
        active_now = await enrollments(campaigns, customer, campaign, status="active")
        assert len(active_now) == enrolled

    async def test_contacts_enrolled_after_an_edit_go_through_the_new_version(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await active(campaigns, customer)
        early, late = random_address(), random_address()
        await enroll(campaigns, customer, campaign, addresses(early))
        steps = [{"type": "send", "template": "Shorter now"}]
        await campaigns.patch(
            f"/v1/campaigns/{campaign['id']}", json={"steps": steps}, headers=customer.headers
        )
        await enroll(campaigns, customer, campaign, addresses(late))
        listed = await enrollments(campaigns, customer, campaign)
        assert {e["address"]: e["version"] for e in listed} == {early: 1, late: 2}

    async def test_a_campaign_reading_event_attributes_takes_contacts_by_events_only(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        steps = [{"type": "send", "template": "Order {{ event.order_id }} shipped."}]
        campaign = await active(campaigns, customer, steps=steps, event_attributes=["order_id"])
        response = await campaigns.post(
            f"/v1/campaigns/{campaign['id']}/enrollments",
            json=addresses(random_address()),
            headers=customer.headers,
        )
        assert response.status_code == 409, response.text
        assert "order_id" in response.json()["error"]["message"]

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({}, id="neither"),
            pytest.param({"contacts": [{"address": "+15551234567"}], "audience": "all"}, id="both"),
            pytest.param({"contacts": []}, id="no-contacts"),
            pytest.param(
                {"contacts": [{"address": "+15551234567"}] * 1001}, id="too-many-contacts"
            ),
            pytest.param({"contacts": [{"address": "5551234567"}]}, id="not-e164"),
            pytest.param({"contacts": [{"contact_id": "nope"}]}, id="not-a-uuid"),
            pytest.param(
                {"contacts": [{"address": "+15551234567", "contact_id": str(uuid4())}]},
                id="address-and-contact-id",
            ),
            pytest.param({"contacts": [{}]}, id="empty-ref"),
            pytest.param({"audience": "everyone"}, id="unknown-audience"),
            pytest.param(
                {"audience": {"condition": {"field": "event.total", "op": "gt", "value": 1}}},
                id="audience-reads-the-event",
            ),
        ],
    )
    async def test_invalid_requests_are_refused(
        self, campaigns: httpx.AsyncClient, customer: Tenant, body: dict[str, Any]
    ) -> None:
        campaign = await active(campaigns, customer)
        response = await campaigns.post(
            f"/v1/campaigns/{campaign['id']}/enrollments", json=body, headers=customer.headers
        )
        assert response.status_code == 422, response.text
        assert await enrollments(campaigns, customer, campaign) == []


async def enroll_audience(
    campaigns: httpx.AsyncClient, tenant: Tenant, campaign: Any, audience: Any, db: Database
) -> dict[str, Any]:
    """Post an audience, run the worker's chunks until its job is done; the job's counts."""
    response = await campaigns.post(
        f"/v1/campaigns/{campaign['id']}/enrollments",
        json={"audience": audience},
        headers=tenant.headers,
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["status"], job["enrolled"]) == ("running", 0)
    path = f"/v1/campaigns/{campaign['id']}/enrollment-jobs/{job['id']}"
    while job["status"] == "running":
        assert await jobs.enroll_next_chunk(db, datetime.now(UTC))
        job = (await campaigns.get(path, headers=tenant.headers)).json()
    assert job["status"] == "done"
    return {"enrolled": job["enrolled"], "skipped": job["skipped"]}


class TestEnrollAudience:
    async def test_all_enrolls_every_contact_of_the_tenant_but_the_blocked(
        self,
        campaigns: httpx.AsyncClient,
        customer: Tenant,
        stranger: Tenant,
        replica: Database,
    ) -> None:
        # Given three contacts, one blocked, and another tenant's contact
        ours = [await add_contact(replica, customer) for _ in range(2)]
        await add_contact(replica, customer, blocked=True)
        await add_contact(replica, stranger)
        campaign = await active(campaigns, customer)
        # When the whole audience is enrolled
        outcome = await enroll_audience(campaigns, customer, campaign, "all", replica)
        # Then the two who are not blocked are, in the background
        assert outcome == {"enrolled": 2, "skipped": 1}
        listed = await enrollments(campaigns, customer, campaign)
        assert {e["contact_id"] for e in listed} == {str(c["contact_id"]) for c in ours}
        # And enrolling it again skips everyone
        assert await enroll_audience(campaigns, customer, campaign, "all", replica) == {
            "enrolled": 0,
            "skipped": 3,
        }

    async def test_a_condition_picks_contacts_by_their_fields(
        self, campaigns: httpx.AsyncClient, customer: Tenant, replica: Database
    ) -> None:
        gold = await add_contact(replica, customer, attributes={"tier": "gold"})
        await add_contact(replica, customer, attributes={"tier": "silver"})
        await add_contact(replica, customer)
        paris = await add_contact(replica, customer, time_zone="Europe/Paris")
        await add_contact(replica, customer, attributes={"tier": "gold"}, blocked=True)
        campaign = await active(campaigns, customer)
        condition = {
            "any": [
                {"field": "contact.attributes.tier", "op": "eq", "value": "gold"},
                {"field": "contact.time_zone", "op": "starts_with", "value": "Europe/"},
            ]
        }
        outcome = await enroll_audience(
            campaigns, customer, campaign, {"condition": condition}, replica
        )
        assert outcome == {"enrolled": 2, "skipped": 1}
        listed = await enrollments(campaigns, customer, campaign)
        assert {e["address"] for e in listed} == {gold["address"], paris["address"]}

    async def test_an_audience_stops_when_its_campaign_stops_being_active(
        self, campaigns: httpx.AsyncClient, customer: Tenant, replica: Database
    ) -> None:
        # Given an audience enrollment recorded, not yet carried out
        await add_contact(replica, customer)
        campaign = await active(campaigns, customer)
        response = await campaigns.post(
            f"/v1/campaigns/{campaign['id']}/enrollments",
            json={"audience": "all"},
            headers=customer.headers,
        )
        job = response.json()
        # When the campaign is paused before the worker gets to it
        await act(campaigns, customer, campaign, "pause")
        while await jobs.enroll_next_chunk(replica, datetime.now(UTC)):
            pass
        # Then the job stops, saying why, and no one was enrolled
        path = f"/v1/campaigns/{campaign['id']}/enrollment-jobs/{job['id']}"
        stopped = (await campaigns.get(path, headers=customer.headers)).json()
        assert (stopped["status"], stopped["enrolled"]) == ("stopped", 0)
        assert stopped["reason"] == "the campaign is no longer active"
        assert await enrollments(campaigns, customer, campaign) == []


class TestEnrollments:
    async def test_filters_and_pages(self, campaigns: httpx.AsyncClient, customer: Tenant) -> None:
        campaign = await active(campaigns, customer)
        numbers = [random_address() for _ in range(3)]
        for number in numbers:
            await enroll(campaigns, customer, campaign, addresses(number))
        newest_first = [e["id"] for e in await enrollments(campaigns, customer, campaign)]
        assert len(newest_first) == 3
        assert newest_first == sorted(newest_first, reverse=True)
        (only,) = await enrollments(campaigns, customer, campaign, address=numbers[0])
        assert only["address"] == numbers[0]
        paged = await enrollments(campaigns, customer, campaign, limit=1, before=newest_first[0])
        assert [e["id"] for e in paged] == [newest_first[1]]
        assert await enrollments(campaigns, customer, campaign, status="exited") == []

    async def test_removing_a_contact_ends_its_enrollment_and_shows_in_its_path(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given a contact in a campaign
        campaign = await active(campaigns, customer)
        (enrollment_id,) = (
            await enroll(campaigns, customer, campaign, addresses(random_address()))
        )["enrollment_ids"]
        path = f"/v1/campaigns/{campaign['id']}/enrollments/{enrollment_id}"
        entered = (await campaigns.get(path, headers=customer.headers)).json()
        assert [(s["step"], s["outcome"]) for s in entered["path"]] == [(0, "entered")]
        # When an operator removes them
        response = await campaigns.delete(path, headers=customer.headers)
        # Then they have exited, with why, and their path ends there
        assert response.status_code == 200, response.text
        removed = response.json()
        assert (removed["status"], removed["reason"]) == ("exited", "removed by an operator")
        assert removed["ended_at"] is not None
        assert removed["next_run_at"] is None
        detail = (await campaigns.get(path, headers=customer.headers)).json()
        assert {k: v for k, v in detail.items() if k != "path"} == removed
        assert [(s["step"], s["outcome"], s["detail"]) for s in detail["path"]] == [
            (0, "entered", None),
            (0, "exited", "removed by an operator"),
        ]
        # And removing them again is a conflict
        again = await campaigns.delete(path, headers=customer.headers)
        assert again.status_code == 409, again.text
        assert "exited" in again.json()["error"]["message"]

    async def test_an_enrollment_of_another_campaign_is_not_found(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await active(campaigns, customer)
        other = await active(campaigns, customer)
        (enrollment_id,) = (
            await enroll(campaigns, customer, campaign, addresses(random_address()))
        )["enrollment_ids"]
        path = f"/v1/campaigns/{other['id']}/enrollments/{enrollment_id}"
        assert (await campaigns.get(path, headers=customer.headers)).status_code == 404
        assert (await campaigns.delete(path, headers=customer.headers)).status_code == 404


class TestTenancy:
    async def test_another_tenant_neither_sees_nor_touches_a_campaign(
        self, campaigns: httpx.AsyncClient, customer: Tenant, stranger: Tenant
    ) -> None:
        # Given a customer's campaign with a contact in it
        campaign = await active(campaigns, customer)
        (enrollment_id,) = (
            await enroll(campaigns, customer, campaign, addresses(random_address()))
        )["enrollment_ids"]
        base = f"/v1/campaigns/{campaign['id']}"
        enrollment = f"{base}/enrollments/{enrollment_id}"
        # Then to another tenant it does not exist, whatever they try
        headers = stranger.headers
        attempts = [
            campaigns.get(base, headers=headers),
            campaigns.patch(base, json={"reenroll": True}, headers=headers),
            campaigns.post(f"{base}/pause", headers=headers),
            campaigns.post(f"{base}/disable", headers=headers),
            campaigns.get(f"{base}/metrics", headers=headers),
            campaigns.get(f"{base}/enrollments", headers=headers),
            campaigns.post(f"{base}/enrollments", json={"audience": "all"}, headers=headers),
            campaigns.get(enrollment, headers=headers),
            campaigns.delete(enrollment, headers=headers),
        ]
        for attempt in attempts:
            response = await attempt
            assert response.status_code == 404, (response.request.url, response.text)
        listed = await campaigns.get("/v1/campaigns", headers=headers)
        assert listed.json() == []
        # And the campaign is untouched
        assert (await campaigns.get(base, headers=customer.headers)).json() == campaign
        assert len(await enrollments(campaigns, customer, campaign, status="active")) == 1

    async def test_a_campaign_with_the_same_name_in_another_tenant_is_allowed(
        self, campaigns: httpx.AsyncClient, customer: Tenant, stranger: Tenant
    ) -> None:
        mine = await create(campaigns, customer, onboarding())
        await create(campaigns, stranger, onboarding(name=mine["name"]))


class TestMetrics:
    async def test_counts_contacts_by_status_and_exit_reason(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        # Given three contacts enrolled, one of whom was removed
        campaign = await active(campaigns, customer)
        numbers = [random_address() for _ in range(3)]
        ids = (await enroll(campaigns, customer, campaign, addresses(*numbers)))["enrollment_ids"]
        await campaigns.delete(
            f"/v1/campaigns/{campaign['id']}/enrollments/{ids[0]}", headers=customer.headers
        )
        # When the campaign's metrics are read
        response = await campaigns.get(
            f"/v1/campaigns/{campaign['id']}/metrics", headers=customer.headers
        )
        # Then they count the contacts by status, and the exit by its reason
        assert response.status_code == 200, response.text
        metrics = response.json()
        assert {k: metrics[k] for k in ("enrolled", "active", "completed", "exited")} == {
            "enrolled": 3,
            "active": 2,
            "completed": 0,
            "exited": 1,
        }
        assert metrics["exit_reasons"] == {"removed by an operator": 1}
        # And each step of the current version, what happened there
        steps = metrics["steps"]
        assert [(s["step"], s["type"], s["id"]) for s in steps] == [
            (0, "send", "welcome"),
            (1, "wait", None),
            (2, "send", None),
        ]
        assert (steps[0]["entered"], steps[0]["exited"]) == (3, 1)
        assert all(s["entered"] == 0 and s["sent"] == 0 for s in steps[1:])

    async def test_counts_each_steps_sends_by_how_they_fared(
        self, campaigns: httpx.AsyncClient, customer: Tenant, replica: Database
    ) -> None:
        # Given sends the first and last steps planned, in every state
        campaign = await active(campaigns, customer)
        fates = [
            (0, "sent", "delivered"),
            (0, "sent", "read"),
            (0, "sent", "failed"),
            (0, "sent", None),
            (0, "skipped", None),
            (2, "sent", "undelivered"),
            (2, "scheduled", None),
            (2, "paused", None),
            (2, "cancelled", None),
            (7, "sent", "delivered"),  # a step an older version had
        ]
        async with replica.transaction() as session:
            for step, status, delivery in fates:
                session.add(send(customer, campaign, step, status, delivery))
        # When the campaign's metrics are read
        response = await campaigns.get(
            f"/v1/campaigns/{campaign['id']}/metrics", headers=customer.headers
        )
        # Then each step's sends are counted by status and delivery
        fields = ("sent", "delivered", "failed", "sends_waiting", "sends_skipped")
        steps = response.json()["steps"]
        assert [tuple(s[f] for f in (*fields, "sends_cancelled")) for s in steps] == [
            (4, 2, 1, 0, 1, 0),
            (0, 0, 0, 0, 0, 0),
            (1, 0, 1, 2, 0, 1),
        ]

    async def test_an_empty_campaign_counts_nothing(
        self, campaigns: httpx.AsyncClient, customer: Tenant
    ) -> None:
        campaign = await create(campaigns, customer, onboarding())
        response = await campaigns.get(
            f"/v1/campaigns/{campaign['id']}/metrics", headers=customer.headers
        )
        metrics = response.json()
        assert (metrics["enrolled"], metrics["exit_reasons"]) == (0, {})
        assert len(metrics["steps"]) == 3


def send(
    tenant: Tenant, campaign: Any, step: int, status: str, delivery: str | None
) -> ScheduledSend:
    """A send a campaign step planned, as the journey runner and the scheduler leave it."""
    now = datetime.now(UTC)
    return ScheduledSend(
        tenant_id=tenant.id,
        idempotency_key=secrets.token_hex(8),
        to_address=random_address(),
        channel="sms",
        body="Hi",
        priority=1,
        requested_at=now,
        due_at=now,
        time_zone="UTC",
        status=status,
        campaign_id=UUID(campaign["id"]),
        step=step,
        delivery_status=delivery,
        sent_at=now if status == "sent" else None,
    )
