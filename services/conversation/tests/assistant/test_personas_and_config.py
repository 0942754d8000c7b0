"""Personas (the library, the tenant's default, the contact's choice) and the CONFIG command."""

from __future__ import annotations

from switchboard.conversation.personas.library import LIBRARY


def system_prompt(fake) -> str:
    return str(fake.requests[-1]["system"])


class TestPersonas:
    async def test_the_tenants_default_persona_and_facts_shape_the_prompt(
        self, tenant, phone, configure, fake_models
    ) -> None:
        # Given a tenant whose assistant is a contractor's receptionist called Robin
        await configure(
            tenant,
            routes={"chat": ["claude"]},
            default_persona="receptionist",
            assistant_name="Robin",
            business_facts="Open Monday to Friday, 8am to 6pm. Emergency call-outs: 24/7.",
        )
        # When a contact writes
        await (await phone(tenant)).text("My boiler is leaking")
        # Then the model is told to be that persona, with that name and those facts
        prompt = system_prompt(fake_models.anthropic)
        assert LIBRARY["receptionist"].instructions.strip() in prompt
        assert "You are Robin" in prompt
        assert "Emergency call-outs: 24/7." in prompt
        # And it is told the SMS limit
        assert "SMS" in prompt

    async def test_a_contact_can_choose_a_persona_by_text(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes={"chat": ["claude"]})
        contact = await phone(tenant)
        # When the contact picks the patient helper
        exchange = await contact.text("CONFIG PERSONA patient-helper")
        # Then the command is answered by the system, not the model
        assert exchange.turn["outcome"] == "command"
        assert exchange.reply is not None
        assert exchange.reply["role"] == "system"
        assert "persona patient-helper" in exchange.reply["body"]
        assert fake_models.anthropic.requests == []
        # And the next answer comes from that persona
        await contact.text("How do I send a photo?")
        assert LIBRARY["patient-helper"].instructions.strip() in system_prompt(
            fake_models.anthropic
        )
        assert (await contact.contact())["persona"] == "patient-helper"
        # And the command itself is not part of what the model reads
        contents = [m["content"] for m in fake_models.anthropic.requests[-1]["messages"]]
        assert contents == ["How do I send a photo?"]


class TestConfig:
    async def test_config_shows_and_sets_name_language_and_time_zone(
        self, tenant, phone, configure, fake_models
    ) -> None:
        await configure(tenant, routes={"chat": ["claude"]})
        contact = await phone(tenant)
        shown = await contact.text("config")
        assert shown.reply is not None
        assert shown.reply["body"].startswith("Your settings: persona default")
        assert "CONFIG PERSONA" in shown.reply["body"]
        for command in ("CONFIG NAME Maria", "CONFIG LANGUAGE French", "config tz europe/paris"):
            exchange = await contact.text(command)
            assert exchange.reply is not None
            assert exchange.reply["body"].startswith("Saved."), exchange.reply["body"]
        saved = await contact.contact()
        assert (saved["display_name"], saved["language"], saved["time_zone"]) == (
            "Maria",
            "French",
            "Europe/Paris",
        )
        # And the model now knows whom it is talking to, in which language and at what time
        await contact.text("bonjour")
        prompt = system_prompt(fake_models.anthropic)
        assert "name: Maria" in prompt
        assert "Always reply in French." in prompt
        assert "(Europe/Paris)" in prompt

    async def test_a_malformed_config_gets_a_helpful_reply(self, tenant, phone) -> None:
        contact = await phone(tenant)
        cases = {
            "CONFIG COLOUR blue": 'I don\'t know the setting "COLOUR".',
            "CONFIG TIMEZONE Mars/Olympus": "is not a time zone I know",
            "CONFIG NAME": "Say what to set name to.",
            "CONFIG PERSONA pirate": 'There is no persona "pirate". Choose one of:',
        }
        for command, problem in cases.items():
            exchange = await contact.text(command)
            assert exchange.reply is not None
            body = exchange.reply["body"]
            assert problem in body, body
            assert "CONFIG PERSONA <name>" in body
        assert "patient-helper" in exchange.reply["body"]
        # And nothing was changed
        assert (await contact.contact())["persona"] is None
