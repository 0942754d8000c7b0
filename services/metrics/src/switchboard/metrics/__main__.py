from switchboard.common.cli import ServiceEntry, main
from switchboard.metrics.config import MetricsSettings
from switchboard.metrics.worker import run

ENTRY = ServiceEntry(
    name="metrics",
    app_factory="switchboard.metrics.app:create_app",
    worker=run,
    migrations="switchboard.metrics:migrations",
    settings=MetricsSettings,
)

if __name__ == "__main__":
    main(ENTRY)
