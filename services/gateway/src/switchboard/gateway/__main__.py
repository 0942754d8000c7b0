from switchboard.common.cli import ServiceEntry, main
from switchboard.gateway.config import GatewaySettings
from switchboard.gateway.worker import run

ENTRY = ServiceEntry(
    name="gateway",
    app_factory="switchboard.gateway.app:create_app",
    worker=run,
    migrations="switchboard.gateway:migrations",
    settings=GatewaySettings,
)

if __name__ == "__main__":
    main(ENTRY)
