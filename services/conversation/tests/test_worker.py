"""The worker follows the delivery of the assistant's replies on `messages.status`."""

from __future__ import annotations

from typing import Any

from switchboard.contracts import MessageStatusChanged, MessageStatusChangedData, new_event_id


def status_of(
    tenant_id: Any, reply: dict[str, Any], address: str, status: str, origin: str = "reply"
) -> MessageStatusChanged:
    """What the gateway publishes when the reply's delivery moves on."""
    return MessageStatusChanged.create(
        tenant_id,
        MessageStatusChangedData(
            message_id=new_event_id(),
            idempotency_key=reply["idempotency_key"],
            origin=origin,
            channel="sms",
            to_address=address,
            status=status,
        ),
    )


class TestDeliveryStatus:
    async def test_the_replys_delivery_status_follows_the_gateway_and_never_goes_back(
        self, tenant, converse, conversation_api, publish, poll
    ) -> None:
        # Given a contact who wrote twice, so two replies
        first = await converse(tenant, "one")
        contact = await conversation_api.get(
            f"/v1/contacts/{first['contact_id']}", headers=tenant.headers
        )
        address = contact.json()["address"]
        both = await converse(tenant, "two", from_address=address)
        first_reply, second_reply = both["turns"][1], both["turns"][3]
        # When the first is delivered, then a late `sent` arrives for it, then the second is sent
        for status in (
            status_of(tenant.id, first_reply, address, "delivered"),
            status_of(tenant.id, first_reply, address, "sent"),
            status_of(tenant.id, second_reply, address, "sent"),
        ):
            await publish(status)

        # Then (one contact's statuses are handled in order) the second reads `sent`...
        async def statuses() -> list[str] | None:
            detail = await conversation_api.get(
                f"/v1/conversations/{first['id']}", headers=tenant.headers
            )
            found = [
                t["delivery_status"] for t in detail.json()["turns"] if t["role"] == "assistant"
            ]
            return found if found[1] == "sent" else None

        # ...and the first is still `delivered`
        assert await poll(statuses) == ["delivered", "sent"]

    async def test_statuses_of_other_senders_are_ignored(
        self, tenant, converse, conversation_api, publish, poll
    ) -> None:
        # Given a reply, and a campaign message's status that happens to reuse its key
        conversation = await converse(tenant, "hello")
        contact = await conversation_api.get(
            f"/v1/contacts/{conversation['contact_id']}", headers=tenant.headers
        )
        address = contact.json()["address"]
        reply = conversation["turns"][1]
        await publish(status_of(tenant.id, reply, address, "failed", origin="campaign"))
        await publish(status_of(tenant.id, reply, address, "sent"))

        # When the reply's own status has been applied
        async def reply_status() -> str | None:
            detail = await conversation_api.get(
                f"/v1/conversations/{conversation['id']}", headers=tenant.headers
            )
            status: str = detail.json()["turns"][1]["delivery_status"]
            return status if status != "queued" else None

        # Then the campaign's `failed` did not touch it
        assert await poll(reply_status) == "sent"

    async def test_fixed_replies_are_followed_too(
        self, tenant, converse, conversation_api, publish, poll
    ) -> None:
        # Given a contact who asked for a person, so the system answered
        conversation = await converse(tenant, "can I talk to a human")
        contact = await conversation_api.get(
            f"/v1/contacts/{conversation['contact_id']}", headers=tenant.headers
        )
        reply = conversation["turns"][1]
        assert reply["role"] == "system"
        # When its delivery moves on twice at once
        address = contact.json()["address"]
        await publish(status_of(tenant.id, reply, address, "sent"))
        await publish(status_of(tenant.id, reply, address, "delivered"))

        async def reply_status() -> str | None:
            detail = await conversation_api.get(
                f"/v1/conversations/{conversation['id']}", headers=tenant.headers
            )
            status: str = detail.json()["turns"][1]["delivery_status"]
            return status if status == "delivered" else None

        # Then the transcript shows where it got to
        assert await poll(reply_status) == "delivered"
