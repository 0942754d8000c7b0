"""Rows an operator names (rules, campaigns): a name is unique per tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import null
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.campaigns.models import Base
from switchboard.common.errors import Conflict


async def save_named(
    session: AsyncSession, row: Base, changes: dict[str, Any], *, constraint: str, kind: str
) -> None:
    """Write `changes` to `row` in a savepoint, so a name the tenant already uses is a 409 (and
    the request's transaction stays usable); then read back what the database set. Every None
    is SQL NULL (JSONB would store JSON null)."""
    name = changes.get("name", getattr(row, "name", None))
    try:
        async with session.begin_nested():
            for column, value in changes.items():
                setattr(row, column, null() if value is None else value)
            session.add(row)
    except IntegrityError as error:
        if constraint not in str(error.orig):
            raise
        raise Conflict(
            f"A {kind} named {name!r} already exists; choose another name, "
            f"or change that {kind} instead."
        ) from None
    await session.refresh(row)
