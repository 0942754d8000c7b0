"""Autogenerate a service's next migration against a scratch database (developer tool)."""

from __future__ import annotations

import sys

from alembic import command
from alembic.config import Config

from switchboard.common.migrations import migrate


def autogenerate(service: str, message: str, url: str) -> None:
    location = f"switchboard.{service}:migrations"
    migrate(location, url)
    config = Config()
    config.set_main_option("script_location", location)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__":
    autogenerate(sys.argv[1], sys.argv[2], sys.argv[3])
