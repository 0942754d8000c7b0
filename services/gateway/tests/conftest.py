"""Fixtures of the gateway's tests (the platform's own are in the repository's conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from switchboard.devstack.fake_twilio import FakeTwilio


@pytest.fixture
async def fake_twilio(gateway: httpx.AsyncClient) -> AsyncIterator[FakeTwilio]:
    """A fake Twilio whose status callbacks reach the in-process gateway."""
    fake = FakeTwilio(callback_client=gateway)
    yield fake
    await fake.drain()
