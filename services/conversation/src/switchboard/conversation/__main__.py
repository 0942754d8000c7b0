from switchboard.common.cli import ServiceEntry, main
from switchboard.conversation.config import ConversationSettings
from switchboard.conversation.worker import run

ENTRY = ServiceEntry(
    name="conversation",
    app_factory="switchboard.conversation.app:create_app",
    worker=run,
    migrations="switchboard.conversation:migrations",
    settings=ConversationSettings,
)

if __name__ == "__main__":
    main(ENTRY)
