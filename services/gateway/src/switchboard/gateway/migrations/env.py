from switchboard.common.migrations import run_env
from switchboard.gateway.models import Base

run_env(Base.metadata)
