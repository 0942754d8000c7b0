from switchboard.common.migrations import run_env
from switchboard.conversation.models import Base

run_env(Base.metadata)
