"""Control: the AI kill switch (tenant and platform), blocked contacts, a per-contact rate
limit, and one polite reply when billing says no. Messages are always stored."""

from __future__ import annotations

from switchboard.contracts import EntitlementChanged, EntitlementData

from .conftest import model_asked


class TestKillSwitch:
    async def test_a_tenant_can_switch_its_assistant_off_and_on(
        self, tenant, phone, configure
    ) -> None:
        contact = await phone(tenant)
        await configure(tenant, enabled=False)
        off = await contact.text("hello?")
        assert off.turn["outcome"] == "ai_off"
        assert off.replies == []
        await configure(tenant, enabled=True)
        on = await contact.text("hello again")
        assert on.turn["outcome"] == "answered"

    async def test_switching_off_while_the_model_thinks_drops_its_answer(
        self, tenant, phone, configure, fake_models
    ) -> None:
        # Given a slow model
        await configure(tenant, routes={"chat": ["claude"]})
        contact = await phone(tenant)
        fake_models.anthropic.delay = 1.0
        # When the tenant switches its assistant off after the model was asked
        event = await contact.send("are you there?")
        await model_asked(fake_models.anthropic, 1)
        await configure(tenant, enabled=False)
        # Then its answer is never sent
        late = await contact.outcome(event)
        assert late.turn["outcome"] == "ai_off"
        assert late.replies == []

    async def test_the_platform_admin_switches_every_tenant_off(
        self, tenant, phone, conversation_api, admin_key
    ) -> None:
        admin = {"Authorization": f"Bearer {admin_key}"}
        contact = await phone(tenant)
        switched = await conversation_api.put(
            "/v1/platform/assistant",
            json={"enabled": False, "reason": "provider incident"},
            headers=admin,
        )
        assert switched.status_code == 200, switched.text
        try:
            off = await contact.text("anyone there?")
            assert off.turn["outcome"] == "ai_off"
            assert off.replies == []
            # Commands still work: they need no model
            config = await contact.text("CONFIG")
            assert config.turn["outcome"] == "command"
        finally:
            await conversation_api.put(
                "/v1/platform/assistant", json={"enabled": True}, headers=admin
            )
        assert (await contact.text("back?")).turn["outcome"] == "answered"


class TestAbuse:
    async def test_a_blocked_contacts_messages_are_stored_never_answered(
        self, tenant, phone, conversation_api
    ) -> None:
        contact = await phone(tenant)
        await contact.text("hi")
        blocked = await conversation_api.patch(
            f"/v1/contacts/{(await contact.contact())['id']}",
            json={"blocked": True},
            headers=tenant.headers,
        )
        assert blocked.status_code == 200, blocked.text
        exchange = await contact.text("buy my crypto")
        assert exchange.turn["outcome"] == "blocked"
        assert exchange.turn["body"] == "buy my crypto"
        assert exchange.replies == []
        # Not even commands or handoff requests get an answer
        assert (await contact.text("human")).replies == []

    async def test_a_contact_over_the_rate_limit_gets_no_more_answers(
        self, tenant, phone, configure
    ) -> None:
        await configure(tenant, contact_messages_per_minute=3)
        contact = await phone(tenant)
        outcomes = [(await contact.text(f"message {i}")).turn["outcome"] for i in range(5)]
        assert outcomes == ["answered"] * 3 + ["rate_limited"] * 2


class TestEntitlements:
    async def test_a_suspended_plan_gets_one_polite_reply_then_silence(
        self, tenant, phone, configure, publish, poll
    ) -> None:
        await configure(tenant, contact_messages_per_minute=600)  # this test texts a lot
        contact = await phone(tenant)
        assert (await contact.text("hi")).turn["outcome"] == "answered"
        # When billing suspends the tenant
        await publish(
            EntitlementChanged.create(tenant.id, EntitlementData(plan="starter", state="suspended"))
        )

        async def suspended() -> bool:
            exchange = await contact.text("are you there?")
            return exchange.turn["outcome"] == "quota"

        await poll(suspended)
        # Then the contact was told once, politely, and is not told again
        notices = [
            t
            for c in await contact.conversations()
            for t in c["turns"]
            if t["role"] == "system" and "can't answer messages right now" in t["body"]
        ]
        assert len(notices) == 1
        again = await contact.text("hello??")
        assert (again.turn["outcome"], again.replies) == ("quota", [])
        # And once billing allows it again, the assistant answers
        await publish(
            EntitlementChanged.create(
                tenant.id,
                EntitlementData(plan="pro", state="active", remaining={"ai_replies": 100}),
            )
        )

        async def answered() -> bool:
            return (await contact.text("and now?")).turn["outcome"] == "answered"

        await poll(answered)

    async def test_a_contact_out_of_its_allowance_is_told_once(
        self, tenant, phone, configure, publish, poll
    ) -> None:
        await configure(tenant, contact_messages_per_minute=600)
        contact = await phone(tenant)
        await publish(
            EntitlementChanged.create(
                tenant.id,
                EntitlementData(
                    plan="pro",
                    state="active",
                    contact_address=contact.address,
                    remaining={"ai_replies": 0},
                ),
            )
        )

        async def told() -> bool:
            return (await contact.text("hi")).turn["outcome"] == "quota"

        await poll(told)
