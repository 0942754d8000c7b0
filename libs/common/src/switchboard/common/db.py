"""Database engine and transactions: the request or the consumer owns the transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url

# Errors that mean "the database is unreachable", as opposed to a bug or a constraint.
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    asyncpg.PostgresConnectionError,
    ConnectionError,
    OSError,
    TimeoutError,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Metadata for one service's schema, with stable constraint names for migrations."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Accept `postgresql://` URLs too; SQLAlchemy needs the asyncpg driver named."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The same URL in the form asyncpg's own `connect` takes."""
    return (
        make_url(async_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def is_unavailable(exc: BaseException) -> bool:
    """True when an error says the database could not be reached (worth a 503 and a retry)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, UNAVAILABLE_ERRORS)


class Database:
    """One service's engine; `transaction()` commits on success and rolls back on error."""

    def __init__(self, url: str, *, pool_size: int = 10, application_name: str = "switchboard"):
        self.engine: AsyncEngine = create_async_engine(
            async_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=False,
            pool_recycle=1800,
            connect_args={
                "server_settings": {"application_name": application_name},
                "timeout": 5,
            },
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.url = url

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed when the block ends without error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncSession]:
        """A session for reads outside a transaction (autocommit): each statement sees what is
        committed when it runs, and there is no BEGIN or ROLLBACK round trip around them. For
        hot read paths whose statements need not agree with each other."""
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            async with AsyncSession(bind=autocommit, expire_on_commit=False) as session:
                yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
