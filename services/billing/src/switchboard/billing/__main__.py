from switchboard.billing.config import BillingSettings
from switchboard.billing.worker import run
from switchboard.common.cli import ServiceEntry, main

ENTRY = ServiceEntry(
    name="billing",
    app_factory="switchboard.billing.app:create_app",
    worker=run,
    migrations="switchboard.billing:migrations",
    settings=BillingSettings,
)

if __name__ == "__main__":
    main(ENTRY)
