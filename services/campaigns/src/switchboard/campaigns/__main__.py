from switchboard.campaigns.config import CampaignsSettings
from switchboard.campaigns.worker import run
from switchboard.common.cli import ServiceEntry, main

ENTRY = ServiceEntry(
    name="campaigns",
    app_factory="switchboard.campaigns.app:create_app",
    worker=run,
    migrations="switchboard.campaigns:migrations",
    settings=CampaignsSettings,
)

if __name__ == "__main__":
    main(ENTRY)
