"""The tenant view a worker reuses for a few seconds."""

from __future__ import annotations

from switchboard.conversation.assistant.state import TenantViews


class TestTenantViews:
    async def test_a_view_is_reused_until_it_expires(self, db, tenant, configure) -> None:
        now = [0.0]
        views = TenantViews(ttl=2, clock=lambda: now[0])
        await configure(tenant, sms_max_segments=3)
        async with db.sessions() as session:
            first = await views.get(session, tenant.id)
        assert first.settings.sms_max_segments == 3
        # When the tenant changes its settings
        await configure(tenant, sms_max_segments=5, default_persona="receptionist")
        # Then the view in hand is still the one read (no query per message)...
        async with db.sessions() as session:
            assert (await views.get(session, tenant.id)) is first
        # ...until it expires
        now[0] = 2.5
        async with db.sessions() as session:
            fresh = await views.get(session, tenant.id)
        assert fresh.settings.sms_max_segments == 5
        assert fresh.persona(None, fresh.settings.default_persona).slug == "receptionist"

    async def test_a_deleted_persona_falls_back_to_the_tenants_default(
        self, db, tenant, configure
    ) -> None:
        await configure(tenant, default_persona="shop-support")
        async with db.sessions() as session:
            view = await TenantViews().get(session, tenant.id)
        assert view.persona("gone", view.settings.default_persona).slug == "shop-support"
        assert view.persona(None, "also-gone").slug == "default"
